"""Redis restarts while replies stream: it keeps nothing on disk, so every stream it
held is gone. Replies still end, completely or with a typed error, their followers
are told, and the stored reply is what they were shown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest

from ezhr_graphql.db import utcnow
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageStatus
from ezhr_graphql.pubsub.redis import RedisBroker
from tests.faults import (
    FAULT_CHAT,
    AppUnderTest,
    Follower,
    PrivateRedis,
    app_under_test,
    assert_stored_as_seen,
    assert_well_formed,
    make_chat_on,
    private_redis,
    settled_reply,
)
from tests.test_replies import Chat, begun_stream, collect, stored_reply, text_of

QUESTION = "Is Redis back yet?"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
async def app(
    tmp_path_factory: pytest.TempPathFactory, redis_server: PrivateRedis
) -> AsyncIterator[AppUnderTest]:
    async with app_under_test(
        tmp_path_factory.mktemp("redis-faults"), chat=FAULT_CHAT, redis_url=redis_server.url
    ) as running:
        yield running


async def _redis_dies_mid_reply(
    app: AppUnderTest, redis_server: PrivateRedis
) -> tuple[Chat, str, Follower]:
    """A reply being followed, five events in, when Redis goes away."""
    chat = await make_chat_on(app, "scripted?tokens=80&delay_ms=20")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    follower = Follower(app.url, chat.person.token, reply_id)
    await follower.seen(5)
    redis_server.kill()
    assert follower.streaming, "the reply ended before Redis went away"
    return chat, reply_id, follower


async def test_a_reply_streaming_through_a_redis_restart_goes_on_where_it_was(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    # Given Redis restarts (losing every stream) while the reply streams
    chat, reply_id, follower = await _redis_dies_mid_reply(app, redis_server)
    redis_server.start()
    # Then the follower gets the rest of the reply, once, and the whole of it
    events = await follower.finished(within=30)
    end = assert_well_formed(events)
    assert end["__typename"] == "ReplyCompleted", end
    assert end["message"]["content"] == text_of(events)
    assert len(text_of(events).split()) == 80
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)
    # and clients resuming after what they saw, or from the start, get the same
    for after in (events[4]["seq"], 0):
        resumed = await collect(app.url, chat.person.token, reply_id, after)
        assert_well_formed(resumed, after)
        assert text_of(events[: 5 if after else 0] + resumed) == end["message"]["content"]


async def test_redis_down_longer_than_a_run_can_wait_fails_it_typed_and_it_is_told_later(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    # Given Redis stays down until the run has given up on it (and stored what it had)
    chat, reply_id, follower = await _redis_dies_mid_reply(app, redis_server)
    stored = await settled_reply(app.container, chat.session_id, reply_id)
    assert stored.status is MessageStatus.FAILED
    assert stored.error_code == "SERVICE_UNAVAILABLE"
    # When Redis comes back
    redis_server.start()
    # Then the follower is told, and has seen exactly what is stored
    events = await follower.finished(within=30)
    end = assert_well_formed(events)
    assert end["__typename"] == "ReplyFailed"
    assert end["code"] == "SERVICE_UNAVAILABLE"
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)


async def test_a_finished_reply_is_replayed_from_the_database_while_redis_is_down(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    chat = await make_chat_on(app, "scripted?tokens=12")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    first = await collect(app.url, chat.person.token, reply_id)
    redis_server.kill()
    try:
        again = await collect(app.url, chat.person.token, reply_id)
        # a client that saw the text but not the end
        resumed = await collect(app.url, chat.person.token, reply_id, first[1]["seq"])
    finally:
        redis_server.start()
    assert [e["__typename"] for e in again] == ["ReplyStarted", "ReplyDelta", "ReplyCompleted"]
    assert text_of(again) == text_of(first)
    # (its end with the seq it had: stored with the reply, though the stream is gone)
    assert [(e["__typename"], e["seq"]) for e in resumed] == [("ReplyCompleted", first[-1]["seq"])]
    assert resumed[0]["message"]["content"] == first[-1]["message"]["content"]


async def _beat(app: AppUnderTest, reply_id: uuid.UUID, at: datetime) -> MessageStatus:
    """Set the reply's heartbeat; its status."""
    async with app.container.db.transaction() as session:
        row = await session.get(ChatMessageRow, reply_id)
        assert row is not None
        row.updated_at = at
        return row.status


async def _reconnected(app: AppUnderTest) -> None:
    """The app's Redis client reconnected to a restarted Redis without a word, as
    its pool does on later commands (each dead connection fails one command, that
    may be any other one: a rate-limit check, another run's append)."""
    broker = app.container.broker
    assert isinstance(broker, RedisBroker)
    await broker.redis.connection_pool.disconnect()
    await broker.ping()


async def test_a_redis_restart_between_two_appends_is_noticed_and_the_stream_made_whole(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    # A model that pauses between tokens far longer than Redis takes to restart
    chat = await make_chat_on(app, "scripted?tokens=10&delay_ms=400")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    follower = Follower(app.url, chat.person.token, reply_id)
    await follower.seen(4)
    await asyncio.sleep(0.1)  # the append of what it saw is over, the next 0.3 s away
    # Given Redis restarts (empty) between two appends of the run: its client
    # reconnects on the next command without a word, so no append fails
    redis_server.kill()
    redis_server.start()
    await _reconnected(app)
    assert follower.streaming, "the reply ended before Redis restarted"
    events = await follower.finished(within=30)
    end = assert_well_formed(events)
    assert end["__typename"] == "ReplyCompleted", end
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)
    # Then clients resuming after what they saw, or from the start, get all of it too
    for after in (events[3]["seq"], 0):
        resumed = await collect(app.url, chat.person.token, reply_id, after)
        assert_well_formed(resumed, after)
        if not after:
            assert resumed[0]["__typename"] == "ReplyStarted"
        assert text_of(events[: 4 if after else 0] + resumed) == end["message"]["content"]


async def test_a_dead_runs_reply_ends_for_its_followers_though_redis_restarted_empty(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    chat = await make_chat_on(app)
    # Given a reply being generated (its row and stream written as its run would)
    reply = await stored_reply(chat, app.container, app.url, "one two", MessageStatus.STREAMING)
    await begun_stream(app.container, chat, reply, "one ", "two")
    follower = Follower(app.url, chat.person.token, str(reply.id))
    await follower.seen(2)  # its start, and its two deltas as one
    assert (await _beat(app, reply.id, utcnow())) is MessageStatus.STREAMING  # alive so far
    # When Redis restarts empty, and its run's process has died (no heartbeat)
    redis_server.kill()
    redis_server.start()
    assert (await _beat(app, reply.id, utcnow() - timedelta(days=1))) is MessageStatus.STREAMING
    await _reconnected(app)
    await app.container.runs.sweep()  # ends the stream afresh, at seq 1
    # Then its follower is told it failed, after what it saw, as stored
    events = await follower.finished(within=20)
    end = assert_well_formed(events)
    assert (end["__typename"], end["seq"], end["code"]) == ("ReplyFailed", 4, "INTERRUPTED")
    question = "How much annual leave?"  # stored_reply's first exchange
    await assert_stored_as_seen(app.container, chat, question, str(reply.id), events)
