"""The unit of work: work registered with ``after_commit`` runs once the transaction
has committed, in order, and never for a change that rolled back; a caller
cancelled while it commits (a client gone mid-mutation) does not leave a committed
change without its work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ezhr_graphql.db import Database, after_commit


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield Database(engine)
    await engine.dispose()


async def rows(db: Database) -> list[int]:
    async with db.read() as session:
        return sorted(r[0] for r in await session.execute(text("SELECT x FROM t")))


async def test_work_runs_after_the_commit_in_order(db: Database) -> None:
    seen: list[str] = []

    async def later() -> None:
        seen.append(f"async, rows {await rows(db)}")

    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (1)"))
        after_commit(session, lambda: seen.append("first"))
        after_commit(session, later)
        assert seen == []
    assert seen == ["first", "async, rows [1]"]  # the work sees what was committed


async def test_no_work_for_a_change_that_rolled_back(db: Database) -> None:
    seen: list[str] = []

    async def fail_after_registering() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
            after_commit(session, lambda: seen.append("ran"))
            raise ValueError("the service refused")

    with pytest.raises(ValueError, match="refused"):
        await fail_after_registering()
    assert seen == []
    assert await rows(db) == []


async def test_a_failing_piece_of_work_is_logged_and_the_rest_still_runs(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("the queue is down")

    with caplog.at_level(logging.ERROR, logger="ezhr_graphql.db.database"):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
            after_commit(session, broken)
            after_commit(session, lambda: seen.append("second"))
    assert seen == ["second"]
    assert await rows(db) == [1]
    assert "work after a commit failed" in caplog.text


async def test_a_read_session_takes_no_work(db: Database) -> None:
    async with db.read() as session:
        with pytest.raises(RuntimeError, match="transaction"):
            after_commit(session, lambda: None)


async def test_a_caller_cancelled_while_committing_leaves_no_change_without_its_work(
    db: Database,
) -> None:
    """Cancel callers at every point of their transaction: each change that was
    committed had its work run, and no work ran for one that was not."""
    ran: list[int] = []
    for number, steps in enumerate(range(0, 300, 3)):

        async def change(n: int = number) -> None:
            async with db.transaction() as session:
                await session.execute(text(f"INSERT INTO t VALUES ({n})"))
                after_commit(session, lambda: ran.append(n))

        task = asyncio.create_task(change())
        for _ in range(steps + 1):
            await asyncio.sleep(0)
        task.cancel()
        # Cancelled, or done before the cancel came: both are fine here.
        await asyncio.gather(task, return_exceptions=True)
    committed = await rows(db)
    assert committed, "no caller got as far as its commit: cancel later"
    assert len(committed) < number + 1, "every caller finished: cancel earlier"
    assert sorted(ran) == committed
