"""Settings: EZHR_ prefix, nested sections, DATABASE_URL, no secret defaults in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ezhr_graphql.settings import DEVELOPMENT_SECRET_KEY, Environment, Settings


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    for name in (
        "DATABASE_URL",
        "EZHR_DATABASE__URL",
        "EZHR_ENV",
        "EZHR_AUTH__SECRET_KEY",
        "EZHR_AUTH__PREVIOUS_SECRET_KEYS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_development_defaults_run_on_embedded_sqlite() -> None:
    settings = Settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database.url.startswith("sqlite+aiosqlite:///")
    assert settings.signing_key == DEVELOPMENT_SECRET_KEY
    assert settings.graphiql_enabled is True
    assert settings.server.port == 5000


def test_nested_variables_and_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/ezhr")
    monkeypatch.setenv("EZHR_GRAPHQL__MAX_DEPTH", "7")
    settings = Settings()
    assert settings.database.url == "postgresql+asyncpg://db/ezhr"
    assert settings.graphql.max_depth == 7
    monkeypatch.setenv("EZHR_DATABASE__URL", "sqlite+aiosqlite:///other.db")
    assert Settings().database.url == "sqlite+aiosqlite:///other.db"


def test_production_requires_a_real_secret_and_turns_graphiql_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EZHR_ENV", "production")
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings()
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", "k" * 40)
    settings = Settings()
    assert settings.signing_key == "k" * 40
    assert settings.graphiql_enabled is False
    assert settings.seed_admin_password is None
    assert "k" * 40 not in repr(settings)


def test_the_published_development_key_is_refused_outside_development_and_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EZHR_ENV", "production")
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    with pytest.raises(ValidationError, match="development signing key") as refused:
        Settings()
    assert "EZHR_AUTH__SECRET_KEY" in str(refused.value)
    assert "secrets.token_urlsafe" in str(refused.value)
    # Nor may it verify tokens as a previous key.
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", "k" * 40)
    monkeypatch.setenv("EZHR_AUTH__PREVIOUS_SECRET_KEYS", json.dumps([DEVELOPMENT_SECRET_KEY]))
    with pytest.raises(ValidationError, match="EZHR_AUTH__PREVIOUS_SECRET_KEYS"):
        Settings()
    monkeypatch.setenv("EZHR_AUTH__PREVIOUS_SECRET_KEYS", json.dumps(["p" * 40]))
    assert Settings().signing_key == "k" * 40


def test_the_development_key_is_accepted_in_development_and_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EZHR_AUTH__PREVIOUS_SECRET_KEYS", json.dumps([DEVELOPMENT_SECRET_KEY]))
    assert Settings().signing_key == DEVELOPMENT_SECRET_KEY
    monkeypatch.setenv("EZHR_ENV", "test")
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    assert Settings().signing_key == DEVELOPMENT_SECRET_KEY


def test_uvicorn_refuses_to_start_in_production_with_the_development_key(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EZHR_")},
        "EZHR_ENV": "production",
        "EZHR_AUTH__SECRET_KEY": DEVELOPMENT_SECRET_KEY,
        "EZHR_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'refused.db'}",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    started = subprocess.run(
        [sys.executable, "-c", "import ezhr_graphql.asgi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode != 0
    assert "development signing key" in started.stderr
    assert "EZHR_AUTH__SECRET_KEY" in started.stderr
