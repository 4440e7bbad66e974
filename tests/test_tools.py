"""tests/tools.py: a missing tool skips its tests with one line on a laptop, and fails
them in CI."""

from __future__ import annotations

import pytest

from tests import tools

HOW = "apt-get install frobnicator"


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("EZHR_TEST_REQUIRE_ALL", raising=False)


@pytest.mark.usefixtures("laptop")
def test_a_missing_tool_skips_with_one_line_saying_what_to_install() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        tools.need(False, "no frobnicator on PATH", HOW)
    assert str(skipped.value) == f"no frobnicator on PATH: {HOW}"
    tools.need(True, "no frobnicator on PATH", HOW)  # present: nothing happens


@pytest.mark.usefixtures("laptop")
@pytest.mark.parametrize(
    ("name", "value"),
    [("CI", "true"), ("CI", "1"), ("CI", "True"), ("EZHR_TEST_REQUIRE_ALL", "1")],
)
def test_in_ci_a_missing_tool_fails(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception) as failed:
        tools.need(False, "no frobnicator on PATH", HOW)
    assert str(failed.value).startswith(f"no frobnicator on PATH: {HOW}")
    tools.need(True, "no frobnicator on PATH", HOW)


@pytest.mark.usefixtures("laptop")
@pytest.mark.parametrize("value", ["", "0", "false"])
def test_a_false_ci_variable_still_skips(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        tools.need(False, "no frobnicator on PATH", HOW)


@pytest.mark.usefixtures("laptop")
def test_a_program_missing_from_path_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.skip.Exception) as skipped:
        tools.need_program("redis-server", HOW)
    assert str(skipped.value) == f"redis-server not found on PATH: {HOW}"


@pytest.mark.usefixtures("laptop")
def test_an_unreachable_redis_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on port 1.
    monkeypatch.setattr(tools, "REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(pytest.skip.Exception) as skipped:
        tools.need_redis()
    message = str(skipped.value)
    assert message == (
        "Redis not reachable at redis://:***@127.0.0.1:1/0: "
        "start redis-server or set EZHR_TEST_REDIS_URL"
    )
    assert "hunter2" not in message
