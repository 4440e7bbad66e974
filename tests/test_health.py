"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

import httpx

from ezhr_graphql.app import create_app
from ezhr_graphql.settings import DatabaseSettings
from tests.conftest import make_settings
from tests.databases import DbUnderTest


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "up"}


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # A SQLite path inside a directory that does not exist cannot be opened.
    missing = tmp_path / "no" / "such" / "dir" / "ezhr.db"
    settings = make_settings(DbUnderTest(DatabaseSettings(url=f"sqlite+aiosqlite:///{missing}")))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    await app.state.container.close()
    assert ready.status_code == 503
    assert ready.json()["database"] == "down"
