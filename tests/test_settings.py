"""Settings: EZHR_ prefix, nested sections, DATABASE_URL, no secret defaults in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ezhr_graphql.settings import DEVELOPMENT_SECRET_KEY, Environment, Settings


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    for name in ("DATABASE_URL", "EZHR_DATABASE__URL", "EZHR_ENV", "EZHR_AUTH__SECRET_KEY"):
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
