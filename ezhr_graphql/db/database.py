"""Unit of work: short read sessions and transactions that commit only on success.

A session is never shared between tasks: Strawberry resolves sibling fields
concurrently, so each resolver (and each DataLoader batch) opens its own.

Work that must follow a commit (start a reply's run, queue ingestion, remove the
vectors of a deleted document) is registered on the transaction with
:func:`after_commit` by the service that decides it, and runs only once the commit
has succeeded: never for a change that rolled back, never before the rows it reads
are visible to other sessions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

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

AfterCommit = Callable[[], Awaitable[None] | None]
# Where a transaction's session keeps the work to do once it commits.
_AFTER_COMMIT = "ezhr.after_commit"


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the transaction ``session`` belongs to has committed; never if
    it rolls back. Hooks run in the order they were registered; one that fails is
    logged and does not undo the commit or stop the others.

    Raises:
        RuntimeError: ``session`` is not a transaction's (a read session never commits).
    """
    hooks = session.info.get(_AFTER_COMMIT)
    if hooks is None:
        raise RuntimeError("after_commit needs the session of Database.transaction()")
    hooks.append(hook)


async def _commit_then(session: AsyncSession, hooks: list[AfterCommit]) -> None:
    await session.commit()
    await _run_hooks(hooks)


async def _to_the_end(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end, in a task of its own: a cancellation of the caller is
    passed on only once it is done (its outcome, an error included, stands)."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _run_hooks(hooks: list[AfterCommit]) -> None:
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            # Committed all the same: each hook's work has its own recovery (a run's
            # reply is swept, a document still QUEUED is queued again).
            logger.exception("work after a commit failed")


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
        """A session in a transaction: commits when the block ends, rolls back on error;
        then, only after a commit, runs the work registered with :func:`after_commit`.

        The commit and that work finish even if the caller is cancelled meanwhile (a
        client gone mid-mutation): a stored question always gets its run.
        """
        hooks: list[AfterCommit] = []
        async with self._sessions() as session:
            session.info[_AFTER_COMMIT] = hooks
            async with session.begin():
                yield session
                await _to_the_end(_commit_then(session, hooks))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; whatever it did is rolled back when the block ends.
        Writing through it is an error on SQLite (its connections are query-only)."""
        async with self._read_sessions() as session:
            yield session

    async def checkpoint(self, *, truncate: bool = False) -> bool:
        """Fold SQLite's write-ahead log into the database, on a worker thread (the
        writer connection never does it on the event loop). ``truncate`` empties the
        log file too, once no reader is left behind, so that pages of rows deleted for
        good stay in neither file; whether it was (always true for other databases).
        """
        if self.sqlite_file is None:
            return True
        path = self.sqlite_file
        mode = "TRUNCATE" if truncate else "PASSIVE"

        def run() -> bool:
            connection = sqlite3.connect(path, timeout=5)
            try:
                busy, _, _ = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                return not busy
            finally:
                connection.close()

        return await asyncio.to_thread(run)

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
