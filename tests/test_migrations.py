"""One linear migration history that matches the models on every dialect."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.dialects import mssql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.schema import CreateIndex, CreateTable

from ezhr_graphql import cli, migrations
from ezhr_graphql.db import Base, create_engine
from ezhr_graphql.models import Agent, ChatSession, Visibility
from ezhr_graphql.repositories import session_list
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.security import PasswordHasher
from ezhr_graphql.services.seed import seed
from ezhr_graphql.settings import get_settings
from tests.databases import fresh_database

MSSQL_URL = (
    "mssql+aioodbc://user:password@sqlserver/chatbot_core?driver=ODBC+Driver+18+for+SQL+Server"
)


def _diff(engine_conn: object) -> list[object]:
    context = MigrationContext.configure(
        engine_conn,  # type: ignore[arg-type]
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": migrations.include_name,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_from_empty_matches_the_models_and_downgrades_cleanly(
    tmp_path: Path,
) -> None:
    async with fresh_database(tmp_path) as database:
        engine = create_engine(database.settings)
        try:
            await migrations.upgrade_engine(engine)
            async with engine.connect() as conn:
                diff = await conn.run_sync(_diff)
            assert diff == [], f"models and migrations differ: {diff}"
            assert {t.name for t in Base.metadata.sorted_tables} <= await _tables(engine)

            await migrations.downgrade_engine(engine, "base")
            assert await _tables(engine) <= {"alembic_version"}

            await migrations.upgrade_engine(engine)
            async with engine.connect() as conn:
                assert await conn.run_sync(_diff) == []
        finally:
            await engine.dispose()


async def test_knowledge_migration_upgrades_and_downgrades_a_database_in_use(
    tmp_path: Path,
) -> None:
    """With agents and sessions in the database, going down past the knowledge
    migration and up again rewrites the agent and embedding model tables (SQLite copies
    them) and keeps every row and reference."""
    async with fresh_database(tmp_path) as database:
        engine = create_engine(database.settings)
        try:
            await migrations.upgrade_engine(engine)
            async with AsyncSession(engine) as session, session.begin():
                result = await seed(
                    session,
                    PasswordHasher(time_cost=1, memory_cost=1024),
                    "a@example.com",
                    "password-1",
                )
                session.add(ChatSession(owner_id=result.admin.id, agent_id=result.agent.id))
            await migrations.downgrade_engine(engine, "6b4856080ac6")
            await migrations.upgrade_engine(engine)
            async with AsyncSession(engine) as session:
                agent = await session.scalar(select(Agent))
                assert agent is not None
                assert agent.similarity_threshold == pytest.approx(0.3)
                assert agent.include_outdated is False
                assert await session.scalar(select(ChatSession.agent_id)) == agent.id
        finally:
            await engine.dispose()


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert all(not isinstance(r.down_revision, tuple) for r in revisions)


def test_migrations_render_as_sql_server_ddl() -> None:
    sql = migrations.render_sql(MSSQL_URL)
    assert "CREATE TABLE [user]" in sql
    assert "UNIQUEIDENTIFIER" in sql
    assert "DATETIMEOFFSET" in sql
    assert "NVARCHAR(max)" in sql
    assert "NTEXT" not in sql
    for name in ("FK__agent__user", "FK__chat_message__chat_session", "PK__chat_session"):
        assert f"CONSTRAINT [{name}]" in sql
    # Filtered unique indexes: a soft-deleted row frees its name.
    assert re.search(
        r"CREATE UNIQUE INDEX \[UX__agent__name\] ON agent \(name\) WHERE deleted_at IS NULL", sql
    )
    downgrade = migrations.render_sql(MSSQL_URL, "head:base")
    assert "DROP TABLE [user]" in downgrade


def test_models_and_key_queries_compile_for_sql_server() -> None:
    dialect = mssql.dialect()
    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "NTEXT" not in ddl, ddl
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))

    cursor = session_list.KEYSET.encode(ChatSession(id=uuid.uuid4(), created_at=datetime.now(UTC)))
    everything = session_list.Beside(agent=True, last_message=True, folder=True)
    for after in (None, cursor):
        page = session_list.page_statement(everything, False, 20, after, session_list.Filters())
        compiled = str(page.compile(dialect=dialect))
        # The page is limited (and its newest message found) before anything is joined.
        assert compiled.count("TOP") == 2, compiled
        assert ") AS ranked LEFT OUTER JOIN agent" in compiled, compiled
    assert "chat_session.created_at < " in compiled

    last = str(ChatMessageRepository.last_by_session_query([uuid.uuid4()]).compile(dialect=dialect))
    assert "row_number() OVER (PARTITION BY chat_message.session_id" in last

    visible = str(
        select(Agent).where(Agent.visibility == Visibility.PUBLIC).compile(dialect=dialect)
    )
    assert "agent.visibility" in visible


async def test_the_migration_command_uses_the_configured_database_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fresh_database(tmp_path) as database:
        monkeypatch.setenv("EZHR_DATABASE__URL", database.settings.url)
        if database.settings.schema_name:
            monkeypatch.setenv("EZHR_DATABASE__SCHEMA_NAME", database.settings.schema_name)
        get_settings.cache_clear()
        try:
            await asyncio.to_thread(cli.main, ["db", "upgrade"])
        finally:
            get_settings.cache_clear()
        engine = create_engine(database.settings)
        try:
            # The tables are where the application looks for them (its schema on
            # PostgreSQL), not merely somewhere in the database.
            assert {t.name for t in Base.metadata.sorted_tables} <= await _tables(engine)
        finally:
            await engine.dispose()
