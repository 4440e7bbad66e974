"""Alembic environment: async engines, SQLite batch mode, offline SQL rendering.

The database URL comes from the application settings unless the caller passes a
connection (tests, ``ezhr-graphql db upgrade`` inside a running loop) or sets
``sqlalchemy.url`` on the config (offline rendering for another dialect).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from ezhr_graphql import models  # noqa: F401 - registers every table
from ezhr_graphql.db import Base, create_engine
from ezhr_graphql.db.base import UTCDateTime
from ezhr_graphql.migrations import include_name
from ezhr_graphql.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database.url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay independent of application code: our UTC timestamp type is a
    # plain timezone-aware DateTime in the database.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        include_name=include_name,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = _url()
    _configure(
        url=url,
        output_buffer=config.attributes.get("output_buffer"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it; with foreign keys enforced, dropping the
        # old copy of a table other rows refer to fails. Check them all at the end.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    _configure(connection=connection, render_as_batch=sqlite)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"the migration left {len(broken)} broken foreign keys")


async def run_async_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        engine = create_async_engine(url, hide_parameters=True)
    else:
        # The application's own engine: same schema (search_path), same pragmas.
        engine = create_engine(get_settings().database)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
