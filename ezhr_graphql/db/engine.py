"""Engine factory with per-dialect settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from ezhr_graphql.db.sqlite_inline import inline_connector
from ezhr_graphql.settings import DatabaseSettings


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # What is deleted (an erased user's conversations) is overwritten in the file, not
    # left in free pages; some SQLite builds do this by default, others do not.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_no_autocheckpoint(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # A checkpoint copies the WAL into the database and syncs it to disk: not on the
    # event loop. Database.checkpoint() runs it on a thread instead.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def sqlite_path(settings: DatabaseSettings) -> str | None:
    """The file of a SQLite database, or None for other databases (and memory)."""
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return str(url.database)


def _sqlite_read_only(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_read_engine(settings: DatabaseSettings) -> AsyncEngine | None:
    """A read-only engine that runs SQLite on the event loop (see
    :mod:`ezhr_graphql.db.sqlite_inline`), or ``None`` where the main engine serves
    reads as well (other databases, in-memory SQLite)."""
    url = make_url(settings.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    engine = create_async_engine(
        url,
        echo=settings.echo,
        hide_parameters=True,
        # A WAL reader does not wait for writers; the short timeout bounds the one
        # case that could (a database not yet switched to WAL by the writer engine).
        async_creator=inline_connector(url.database, timeout=1),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_read_only)
    return engine


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = make_url(settings.url)
    # Statement parameters never reach error messages or logs: they can hold password
    # hashes and message contents.
    kwargs: dict[str, Any] = {
        "echo": settings.echo,
        "pool_pre_ping": False,
        "hide_parameters": True,
    }
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # One writer connection, run on the event loop (see sqlite_inline): tasks of
        # this process queue for it without blocking the loop, so SQLite's lock is
        # only ever contended by another process, briefly.
        kwargs["async_creator"] = inline_connector(url.database, timeout=5)
        kwargs["pool_size"] = 1
        kwargs["max_overflow"] = 0
    elif url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        if settings.schema_name and url.get_backend_name() == "postgresql":
            kwargs["connect_args"] = {"server_settings": {"search_path": settings.schema_name}}
        kwargs["pool_size"] = settings.pool_size
        kwargs["max_overflow"] = settings.max_overflow
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        if "async_creator" in kwargs:
            event.listen(engine.sync_engine, "connect", _sqlite_no_autocheckpoint)
    return engine
