"""Redis restarts while replies stream: it keeps nothing on disk, so every stream it
held is gone. Replies still end, completely or with a typed error, their followers
are told, and the stored reply is what they were shown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ezhr_graphql.models import MessageStatus
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
from tests.test_replies import collect, text_of

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


async def test_a_reply_streaming_through_a_redis_restart_goes_on_where_it_was(
    app: AppUnderTest, redis_server: PrivateRedis
) -> None:
    chat = await make_chat_on(app, "scripted?tokens=80&delay_ms=20")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    follower = Follower(app.url, chat.person.token, reply_id)
    # Given Redis restarts (losing every stream) while the reply streams
    await follower.seen(5)
    redis_server.kill()
    assert follower.streaming, "the reply ended before Redis went away"
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
    chat = await make_chat_on(app, "scripted?tokens=80&delay_ms=20")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    follower = Follower(app.url, chat.person.token, reply_id)
    await follower.seen(5)
    # Given Redis stays down until the run has given up on it (and stored what it had)
    redis_server.kill()
    assert follower.streaming, "the reply ended before Redis went away"
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
    assert [(e["__typename"], e["seq"]) for e in resumed] == [("ReplyCompleted", first[2]["seq"])]
    assert resumed[0]["message"]["content"] == first[-1]["message"]["content"]
