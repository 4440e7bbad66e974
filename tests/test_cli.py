"""The ezhr-graphql command: migrations, seed, SQL rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from ezhr_graphql import cli
from ezhr_graphql.settings import get_settings

# What a fresh database gets: the demo admin, models and agent, and the sample policies
# the agent answers from.
SEEDED = "seeded: admin, llm_model, embedding_model, agent, sample_collection, sample_documents"


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "ezhr.db"
    monkeypatch.setenv("EZHR_DATABASE__URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("EZHR_ENV", "development")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_db_upgrade_then_seed_twice_creates_the_demo_once(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["db", "upgrade"]) == 0
    assert sqlite_env.exists()
    assert cli.main(["seed"]) == 0
    first = capsys.readouterr().out
    assert SEEDED in first
    assert "indexed 2 sample documents" in first
    assert cli.main(["seed"]) == 0
    assert "nothing (already seeded)" in capsys.readouterr().out
    assert cli.main(["db", "downgrade", "base"]) == 0


def test_db_sql_renders_sql_server_ddl(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["db", "sql", "--url", "mssql+aioodbc://h/chatbot_core"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE chat_session" in out
    assert "NVARCHAR" in out


def test_serve_refuses_a_public_address_with_development_secrets(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EZHR_AUTH__SECRET_KEY", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0", "--no-migrate"]) == 2  # noqa: S104
    assert "EZHR_AUTH__SECRET_KEY" in capsys.readouterr().err


def test_ingest_loads_files_into_the_agents_collection(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.knowledge import HANDBOOK

    folder = tmp_path / "docs"
    (folder / "redirects").mkdir(parents=True)
    leave = HANDBOOK / "travel-and-leave"
    for name in ("fmla.md", "overtime.md"):
        (folder / name).write_bytes((leave / name).read_bytes())
    (folder / "redirects" / "old.md").write_text("---\nredirect_to: /x/\n---\n")
    (folder / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    # On a fresh database: migrated and seeded as `serve` does, then loaded
    assert cli.main(["ingest", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "seeded: admin" in out
    assert "skipped" in out  # the picture, with the reason
    assert "2 new documents in 'HR documents'" in out
    assert "indexed 2 documents" in out
    assert cli.main(["ingest", str(folder / "fmla.md")]) == 0
    assert "already there" in capsys.readouterr().out
    assert cli.main(["ingest", str(folder), "--agent", "Nobody"]) == 2


def test_seed_prepares_a_fresh_database(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["seed"]) == 0
    assert SEEDED in capsys.readouterr().out
    assert cli.main(["seed"]) == 0
    assert "already seeded" in capsys.readouterr().out


def test_seed_refuses_an_admin_password_the_policy_refuses(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EZHR_SEED__ADMIN_PASSWORD", "password1234")
    get_settings.cache_clear()
    assert cli.main(["seed"]) == 2
    assert "most common passwords" in capsys.readouterr().err
    # nothing was created: a good password seeds the whole demo afterwards
    monkeypatch.setenv("EZHR_SEED__ADMIN_PASSWORD", "lanterns over the harbour at nine")
    get_settings.cache_clear()
    assert cli.main(["seed"]) == 0
    assert SEEDED in capsys.readouterr().out
