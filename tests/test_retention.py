"""Retention: conversations past their agent's retention period, and those deleted
longer ago than the grace period, are removed for real by the sweep (rows, feedback,
reply streams); nothing else is, and two sweeps at once remove each row once.

Checked in the database directly (every column that held someone's text) and on the
broker (Redis keys themselves with ``EZHR_TEST_REDIS_URL``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Table, select, update

from ezhr_graphql.container import Container
from ezhr_graphql.db import Base, Database, utcnow
from ezhr_graphql.models import (
    Agent,
    ChatFeedback,
    ChatMessage,
    ChatSession,
    Folder,
    MessageRole,
    Rating,
)
from ezhr_graphql.pubsub import StreamEvent
from ezhr_graphql.repositories.purge import CONVERSATION_TABLES, PurgeRepository, dependents
from ezhr_graphql.services.privacy import ConversationPurge, Removed, RetentionSweep
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.settings import Settings
from tests.conftest import GraphQLClient, PeopleFactory, Person, make_settings
from tests.databases import DbUnderTest
from tests.factories import make_agent

CREATE_AGENT = """
mutation ($input: CreateAgentInput!) {
  createAgent(input: $input) {
    __typename ... on Agent { id retentionDays } ... on InvalidInput { field }
  }
}"""
UPDATE_AGENT = """
mutation ($id: ID!, $input: UpdateAgentInput!) {
  updateAgent(id: $id, input: $input) {
    __typename ... on Agent { retentionDays description } ... on InvalidInput { field }
  }
}"""
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=utcnow().tzinfo)


@dataclass
class Conversation:
    mark: str
    session_id: uuid.UUID
    message_ids: list[uuid.UUID]
    folder_id: uuid.UUID | None = None


async def converse(
    container: Container,
    owner: Person,
    agent_id: uuid.UUID,
    mark: str,
    *,
    idle: timedelta = timedelta(0),
    deleted: timedelta | None = None,
    folder_deleted: timedelta | None = None,
) -> Conversation:
    """A conversation whose texts all hold ``mark`` (title, question, reply, feedback
    comment, folder name): last active ``idle`` before :data:`NOW`, deleted
    ``deleted`` before it, in a folder deleted ``folder_deleted`` before it; its
    reply's stream on the broker."""
    active = NOW - idle
    async with container.db.transaction() as db:
        folder = None
        if folder_deleted is not None:
            folder = Folder(owner_id=owner.id, name=f"{mark} folder")
            folder.deleted_at = NOW - folder_deleted
            db.add(folder)
            await db.flush()
        chat = ChatSession(
            owner_id=owner.id,
            agent_id=agent_id,
            title=f"{mark} title",
            folder_id=None if folder is None else folder.id,
            created_at=active,
            deleted_at=None if deleted is None else NOW - deleted,
        )
        db.add(chat)
        await db.flush()
        question = ChatMessage(
            session_id=chat.id, role=MessageRole.USER, content=f"{mark} question", created_at=active
        )
        db.add(question)
        await db.flush()
        reply = ChatMessage(
            session_id=chat.id,
            parent_id=question.id,
            role=MessageRole.ASSISTANT,
            content=f"{mark} reply",
            created_at=active,
        )
        db.add(reply)
        await db.flush()
        db.add(
            ChatFeedback(
                message_id=reply.id, user_id=owner.id, rating=Rating.UP, comment=f"{mark} comment"
            )
        )
        await db.execute(
            update(ChatSession)
            .where(ChatSession.id == chat.id)
            .values(current_message_id=reply.id, updated_at=active)
        )
    end = StreamEvent(1, "completed", {"message": {"content": f"{mark} reply"}})
    await container.broker.append(stream_name(reply.id), end)
    return Conversation(mark, chat.id, [question.id, reply.id], chat.folder_id)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def held_text(container: Container) -> str:
    """Every text anybody wrote that the database holds, deleted rows included."""
    columns = [
        _table(ChatMessage).c.content,
        _table(ChatFeedback).c.comment,
        _table(ChatSession).c.title,
        _table(Folder).c.name,
    ]
    async with container.db.read() as db:
        texts = [str(v) for column in columns for v in await db.scalars(select(column))]
    return "\n".join(texts)


async def streams_held(container: Container, conversation: Conversation) -> bool:
    found = [await container.broker.exists(stream_name(m)) for m in conversation.message_ids[1:]]
    return any(found)


async def set_retention(container: Container, agent_id: uuid.UUID, days: int | None) -> None:
    async with container.db.transaction() as db:
        await db.execute(update(Agent).where(Agent.id == agent_id).values(retention_days=days))


async def test_the_sweep_removes_what_is_past_retention_or_grace_and_nothing_else(
    container: Container, people: PeopleFactory
) -> None:
    # Given an agent keeping conversations 30 days, one keeping them for ever, and
    # conversations of two members, old and young, live and deleted
    admin, member, other = await people.admin(), await people.member(), await people.member()
    kept_30 = await make_agent(container, admin)
    forever = await make_agent(container, admin)
    await set_retention(container, kept_30.id, 30)
    gone = [
        await converse(container, member, kept_30.id, "gone-old", idle=timedelta(days=31)),
        await converse(container, other, kept_30.id, "gone-other-old", idle=timedelta(days=45)),
        await converse(
            container,
            member,
            forever.id,
            "gone-deleted",
            idle=timedelta(days=40),
            deleted=timedelta(days=31),
            folder_deleted=timedelta(days=31),
        ),
    ]
    kept = [
        await converse(container, member, kept_30.id, "kept-young", idle=timedelta(days=29)),
        await converse(container, other, kept_30.id, "kept-other-young", idle=timedelta(days=1)),
        await converse(container, member, forever.id, "kept-forever", idle=timedelta(days=900)),
        await converse(
            container,
            member,
            forever.id,
            "kept-in-grace",
            idle=timedelta(days=40),
            deleted=timedelta(days=29),
            folder_deleted=timedelta(days=29),
        ),
    ]

    # When the sweep runs
    removed = await container.retention.sweep(NOW)

    # Then exactly the expired conversations are gone: rows, feedback, folder, streams
    assert removed == Removed(sessions=3, messages=6, feedback=3, folders=1, streams=3)
    text = await held_text(container)
    for conversation in gone:
        assert conversation.mark not in text
        assert not await streams_held(container, conversation)
    for conversation in kept:
        for part in ("title", "question", "reply", "comment"):
            assert f"{conversation.mark} {part}" in text
        assert await streams_held(container, conversation)
    assert "kept-in-grace folder" in text
    # And a second sweep finds nothing more
    assert await container.retention.sweep(NOW) == Removed()


async def test_deleted_conversations_wait_out_the_grace_period(
    container: Container, people: PeopleFactory
) -> None:
    # Given a conversation deleted 10 days ago (the grace period is 30 days)
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin)
    deleted = await converse(
        container, member, agent.id, "grace", idle=timedelta(days=10), deleted=timedelta(days=10)
    )
    # When the sweep runs now, then 19 days later: it stays
    assert await container.retention.sweep(NOW) == Removed()
    assert await container.retention.sweep(NOW + timedelta(days=19)) == Removed()
    assert deleted.mark in await held_text(container)
    # When it runs 21 days later: it is gone
    later = await container.retention.sweep(NOW + timedelta(days=21))
    assert later == Removed(sessions=1, messages=2, feedback=1, streams=1)
    assert deleted.mark not in await held_text(container)


@dataclass
class Process:
    db: Database
    purge: ConversationPurge
    retention: RetentionSweep


@pytest.fixture
async def two_processes(
    database: DbUnderTest, settings: Settings, container: Container
) -> AsyncIterator[list[Process]]:
    """Two server processes on the suite's database, each sweeping as itself. On
    PostgreSQL each has its own engine and connections. SQLite's writer runs on the
    event loop, and one process has one writer (a second would block the loop that
    the first needs to finish): there they share the suite's, as threads of one
    process would. ``container`` empties the tables afterwards."""
    if database.dialect == "sqlite":
        yield [
            Process(
                container.db,
                container.purge,
                RetentionSweep(container.db, container.purge, settings.privacy),
            )
            for _ in range(2)
        ]
        return
    made = [Container.build(settings) for _ in range(2)]
    try:
        yield [Process(c.db, c.purge, c.retention) for c in made]
    finally:
        for process in made:
            await process.close()


async def test_two_sweeps_at_once_remove_each_row_once(
    container: Container, two_processes: list[Process], people: PeopleFactory
) -> None:
    # Given more expired conversations than one batch holds
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin)
    await set_retention(container, agent.id, 7)
    count = 230
    for i in range(count):
        await converse(container, member, agent.id, f"old-{i}", idle=timedelta(days=8))

    # When two processes sweep at once
    first, second = await asyncio.gather(*(p.retention.sweep(NOW) for p in two_processes))

    # Then, between them, each row was removed and counted once, and none is left
    done = [r for r in (first, second) if r is not None]
    assert done, "neither process swept"
    assert sum(r.sessions for r in done) == count
    assert sum(r.messages for r in done) == 2 * count
    assert sum(r.feedback for r in done) == count
    assert "old-" not in await held_text(container)


async def test_purges_of_the_same_conversations_at_once_count_each_row_once(
    container: Container, two_processes: list[Process], people: PeopleFactory
) -> None:
    # Given conversations, and two processes that both chose to remove them
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin)
    made = [await converse(container, member, agent.id, f"both-{i}") for i in range(20)]
    ids = [c.session_id for c in made]

    async def purge(process: Process) -> tuple[int, int, int]:
        async with process.db.transaction() as db:
            purged = await process.purge.sessions(PurgeRepository.from_session(db), ids)
        return purged.sessions, purged.messages, purged.feedback

    # When both remove them at once (no lease in the way)
    results = await asyncio.gather(*(purge(p) for p in two_processes))

    # Then each row was counted once, whoever removed it
    assert tuple(map(sum, zip(*results, strict=True))) == (20, 40, 20)
    assert "both-" not in await held_text(container)


def test_every_table_pointing_at_conversations_is_purged_with_them() -> None:
    """A table added later that points at sessions or messages is removed with them
    (read from the models); one pointing at those in turn would need its own step."""
    referring = {table.name for table, _, _ in dependents()}
    assert referring == {"chat_feedback"}, "check that purging handles these tables"
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            assert key.column.table.name not in referring, (
                f"{table.name} points at {key.column.table.name}: purge it first"
            )
    assert {"chat_session", "chat_message"} == CONVERSATION_TABLES


async def test_retention_days_is_set_validated_and_cleared(
    gql: GraphQLClient, container: Container, people: PeopleFactory
) -> None:
    admin = await people.admin()
    model = await make_agent(container, admin)
    base = {
        "llmModelId": str(model.llm_model_id),
        "embeddingModelId": str(model.embedding_model_id),
    }
    # A new agent keeps conversations for ever unless told otherwise
    made = await gql.data(CREATE_AGENT, {"input": {**base, "name": "plain"}}, admin.token)
    assert made["createAgent"]["retentionDays"] is None
    made = await gql.data(
        CREATE_AGENT, {"input": {**base, "name": "short", "retentionDays": 30}}, admin.token
    )
    agent_id = made["createAgent"]["id"]
    assert made["createAgent"]["retentionDays"] == 30
    # Out of range: InvalidInput naming the field
    for bad in (0, -1, 3651):
        refused = await gql.data(
            UPDATE_AGENT, {"id": agent_id, "input": {"retentionDays": bad}}, admin.token
        )
        assert refused["updateAgent"] == {"__typename": "InvalidInput", "field": "retentionDays"}
    # Omitted: unchanged; null: cleared
    same = await gql.data(
        UPDATE_AGENT, {"id": agent_id, "input": {"description": "d"}}, admin.token
    )
    assert same["updateAgent"]["retentionDays"] == 30
    cleared = await gql.data(
        UPDATE_AGENT, {"id": agent_id, "input": {"retentionDays": None}}, admin.token
    )
    assert cleared["updateAgent"]["retentionDays"] is None


@pytest.fixture
async def on_redis(
    database: DbUnderTest, redis_url: str, container: Container
) -> AsyncIterator[Container]:
    """A process with the Redis broker, on the suite's database."""
    process = Container.build(make_settings(database, redis_url=redis_url))
    try:
        yield process
    finally:
        await process.close()


async def test_the_sweep_removes_reply_streams_from_redis(
    on_redis: Container, people: PeopleFactory
) -> None:
    # Given an expired conversation whose reply stream is in Redis, and a young one
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(on_redis, admin)
    await set_retention(on_redis, agent.id, 1)
    old = await converse(on_redis, member, agent.id, "redis-old", idle=timedelta(days=2))
    young = await converse(on_redis, member, agent.id, "redis-young")
    redis = on_redis.broker.redis
    assert redis is not None
    keys = {c.mark: f"ezhr:stream:message:{c.message_ids[1]}" for c in (old, young)}
    assert await redis.exists(*keys.values()) == 2

    # When the sweep runs
    removed = await on_redis.retention.sweep(NOW)

    # Then the old stream's key is gone from Redis, the young one's is not
    assert removed is not None
    assert removed.streams == 1
    assert await redis.exists(keys["redis-old"]) == 0
    assert await redis.exists(keys["redis-young"]) == 1
    assert "redis-old" not in await held_text(on_redis)
