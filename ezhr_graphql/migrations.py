"""Running Alembic from the application (CLI, start-up and tests)."""

from __future__ import annotations

import io

from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from ezhr_graphql.models.knowledge import KEYWORD_INDEX, PGVECTOR_PREFIX
from ezhr_graphql.settings import PROJECT_ROOT

ALEMBIC_DIR = PROJECT_ROOT / "alembic"
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether autogenerate compares an object: not the tables the models do not
    describe (the pgvector store's, made at run time, and the keyword index, made by
    hand-written SQL per dialect)."""
    if type_ != "table" or name is None:
        return True
    keyword_index = name == KEYWORD_INDEX or name.startswith(KEYWORD_INDEX + "_")
    return not (name.startswith(PGVECTOR_PREFIX) or keyword_index)


def alembic_config(url: str | None = None, *, stdout: io.StringIO | None = None) -> Config:
    config = Config(stdout=stdout) if stdout is not None else Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at ``url``, or the configured one with its settings
    (schema, pragmas) when ``url`` is None. Blocking; runs its own event loop."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _on_connection(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate through an engine from inside a running event loop."""
    async with engine.begin() as connection:
        await connection.run_sync(_on_connection, "upgrade", revision)


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_on_connection, "downgrade", revision)


def render_sql(url: str, revisions: str = "base:head") -> str:
    """The SQL of the migrations for ``url``'s dialect, without connecting (offline)."""
    out = io.StringIO()
    config = alembic_config(url, stdout=io.StringIO())
    config.attributes["output_buffer"] = out
    if revisions.startswith("head:"):
        command.downgrade(config, revisions, sql=True)
    else:
        command.upgrade(config, revisions, sql=True)
    return out.getvalue()


def revision(message: str, url: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)
