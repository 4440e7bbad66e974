"""Unit of work: short read sessions and transactions that commit only on success.

A session is never shared between tasks: Strawberry resolves sibling fields
concurrently, so each resolver (and each DataLoader batch) opens its own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from ezhr_graphql.db.base import SoftDeleteMixin

logger = logging.getLogger(__name__)


def _hide_soft_deleted(state: ORMExecuteState) -> None:
    if state.is_select and not state.is_column_load:
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDeleteMixin,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )


event.listen(Session, "do_orm_execute", _hide_soft_deleted)


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(
        self,
        engine: AsyncEngine,
        read_engine: AsyncEngine | None = None,
        sqlite_file: str | None = None,
    ) -> None:
        self.engine = engine
        self.sqlite_file = sqlite_file
        self.read_engine = read_engine or engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine in use (SQLite has a separate one for reads)."""
        if self.read_engine is self.engine:
            return (self.engine,)
        return (self.engine, self.read_engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: commits when the block ends, rolls back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; whatever it did is rolled back when the block ends.
        Writing through it is an error on SQLite (its connections are query-only)."""
        async with self._read_sessions() as session:
            yield session

    async def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log into the database, on a worker thread (the
        writer connection never does it on the event loop)."""
        if self.sqlite_file is None:
            return
        path = self.sqlite_file

        def run() -> None:
            connection = sqlite3.connect(path, timeout=5)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                connection.close()

        await asyncio.to_thread(run)

    async def checkpoint_forever(self, every: float = 5.0) -> None:
        """Checkpoint every few seconds (a no-op for databases other than SQLite)."""
        while self.sqlite_file is not None:
            await asyncio.sleep(every)
            try:
                await self.checkpoint()
            except sqlite3.Error:
                logger.warning("checkpointing the database failed", exc_info=True)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()
