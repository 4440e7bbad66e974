"""Test databases: a SQLite file, or a fresh schema in the PostgreSQL named by
``EZHR_TEST_DATABASE_URL`` (dropped at the end)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ezhr_graphql.settings import DatabaseSettings

POSTGRES_URL = os.environ.get("EZHR_TEST_DATABASE_URL")


@dataclass(frozen=True)
class DbUnderTest:
    settings: DatabaseSettings

    @property
    def dialect(self) -> str:
        return make_url(self.settings.url).get_backend_name()


@asynccontextmanager
async def fresh_database(tmp_dir: Path) -> AsyncIterator[DbUnderTest]:
    """An empty database for one use, removed afterwards."""
    if POSTGRES_URL is None:
        path = tmp_dir / f"ezhr-{uuid.uuid4().hex[:8]}.db"
        yield DbUnderTest(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
        return
    async with throwaway_schema(POSTGRES_URL, "ezhr_test") as schema:
        yield DbUnderTest(DatabaseSettings(url=POSTGRES_URL, schema_name=schema, pool_size=5))


@asynccontextmanager
async def throwaway_schema(url: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL schema's name, dropped with all it holds afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()
