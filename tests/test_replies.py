"""Chat replies end to end: send, stream, replay, reconnect, stop, fail, branch,
title, feedback and limits, over real websockets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageStatus
from ezhr_graphql.services.replies.events import (
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyStarted,
    encode,
)
from ezhr_graphql.services.replies.streams import stream_name
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent, make_sessions
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, connect

SEND = """
mutation ($input: SendMessageInput!) {
  sendMessage(input: $input) {
    __typename
    ... on SentMessage {
      userMessage { id content }
      assistantMessage { id status }
      session { id }
    }
    ... on UserError { code message }
    ... on LimitExceeded { limit }
    ... on InvalidInput { field }
  }
}"""
STREAM = """
subscription ($id: ID!, $after: Int) {
  messageStream(messageId: $id, afterSeq: $after) {
    __typename
    ... on ReplyStarted { seq messageId userMessageId sessionId }
    ... on ReplyDelta { seq text }
    ... on ReplyCompleted { seq message { id status content completionTokens latencyMs } }
    ... on ReplyFailed { seq code reason }
  }
}"""
STOP = """
mutation ($id: ID!) {
  stopGeneration(messageId: $id) { __typename ... on UserError { code message } }
}"""
MESSAGE = """
query ($session: ID!) {
  chatMessages(sessionId: $session, first: 100) {
    ... on ChatMessageConnection {
      edges { node { id role status content errorCode promptTokens completionTokens
                     timeToFirstTokenMs latencyMs parentId } }
    }
  }
}"""


class Chat:
    """A member with a session on a scripted agent."""

    def __init__(self, gql: GraphQLClient, person: Person, session_id: uuid.UUID) -> None:
        self.gql = gql
        self.person = person
        self.session_id = session_id

    async def send(self, content: str = "How much annual leave?", **extra: Any) -> dict[str, Any]:
        payload = {
            "sessionId": str(self.session_id),
            "content": content,
            "clientMessageId": extra.pop("client_id", str(uuid.uuid4())),
            **extra,
        }
        data = await self.gql.data(SEND, {"input": payload}, token=self.person.token)
        result: dict[str, Any] = data["sendMessage"]
        return result

    async def messages(self) -> list[dict[str, Any]]:
        data = await self.gql.data(
            MESSAGE, {"session": str(self.session_id)}, token=self.person.token
        )
        return [e["node"] for e in data["chatMessages"]["edges"]]


async def make_chat(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    script: str = "scripted?tokens=12",
) -> Chat:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin, llm=script, system_prompt="Be brief.")
    (session,) = await make_sessions(container, member, agent.id, 1, titled=False)
    return Chat(gql, member, session.id)


async def collect(
    url: str, token: str, message_id: str, after: int = 0, protocol: str = TRANSPORT_WS
) -> list[dict[str, Any]]:
    async with connect(url, token, protocol) as connection:
        return [
            data["messageStream"]
            async for data in connection.subscribe(STREAM, {"id": message_id, "after": after})
        ]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["__typename"] == "ReplyDelta")


async def stored_reply(
    chat: Chat,
    container: Container,
    url: str,
    content: str,
    status: MessageStatus,
    stream_seq: int | None = None,
) -> ChatMessageRow:
    """A reply to a first exchange's question, written straight to the database with
    no run and no stream behind it (``stream_seq``: the seq its stream ended at)."""
    first = await chat.send()
    await collect(url, chat.person.token, first["assistantMessage"]["id"])
    reply = ChatMessageRow(
        session_id=chat.session_id,
        parent_id=uuid.UUID(first["userMessage"]["id"]),
        role="ASSISTANT",
        content=content,
        status=status,
        stream_seq=stream_seq,
    )
    async with container.db.transaction() as session:
        session.add(reply)
    return reply


async def wait_for_status(chat: Chat, message_id: str) -> dict[str, Any]:
    async def poll() -> dict[str, Any]:
        while True:
            for message in await chat.messages():
                if message["id"] == message_id and message["status"] != "STREAMING":
                    return message
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), 10)


async def test_a_reply_streams_and_is_stored_with_usage_and_timings(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    sent = await chat.send("How much annual leave do I get?")
    assert sent["__typename"] == "SentMessage"
    assert sent["assistantMessage"]["status"] == "STREAMING"
    reply_id = sent["assistantMessage"]["id"]

    events = await collect(live_url, chat.person.token, reply_id)

    assert events[0]["__typename"] == "ReplyStarted"
    assert events[0]["messageId"] == reply_id
    assert events[0]["userMessageId"] == sent["userMessage"]["id"]
    assert events[-1]["__typename"] == "ReplyCompleted"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    final = events[-1]["message"]
    assert final["status"] == "COMPLETED"
    assert final["content"] == text_of(events)
    assert final["content"].startswith("You asked: How much annual leave")
    stored = next(m for m in await chat.messages() if m["id"] == reply_id)
    assert stored["completionTokens"] > 0
    assert stored["promptTokens"] > 0
    assert stored["timeToFirstTokenMs"] is not None
    assert stored["latencyMs"] >= stored["timeToFirstTokenMs"]


async def test_the_same_client_message_id_creates_one_message_and_one_run(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=20&delay_ms=10")
    first, second = await asyncio.gather(
        chat.send("Double click", client_id="click-1"),
        chat.send("Double click", client_id="click-1"),
    )
    ids = {first["assistantMessage"]["id"], second["assistantMessage"]["id"]}
    assert len(ids) == 1
    await collect(live_url, chat.person.token, ids.pop())
    messages = await chat.messages()
    assert [m["role"] for m in messages] == ["USER", "ASSISTANT"]
    again = await chat.send("Double click", client_id="click-1")
    assert again["assistantMessage"]["id"] == first["assistantMessage"]["id"]
    assert len(await chat.messages()) == 2


async def test_replay_after_seq_and_a_finished_reply_replays_then_completes(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=15")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    everything = await collect(live_url, chat.person.token, reply_id)
    last = everything[-1]["seq"]
    for after in (0, 1, 5, last - 1, last):
        replay = await collect(live_url, chat.person.token, reply_id, after)
        assert all(e["seq"] > after for e in replay)
        assert [e["seq"] for e in replay] == sorted({e["seq"] for e in replay})
        assert (replay[-1]["__typename"] if replay else None) == (
            "ReplyCompleted" if after < last else None
        )
    tail = await collect(live_url, chat.person.token, reply_id, 5)
    assert everything[-1]["message"]["content"].endswith(text_of(tail))


async def test_a_reconnecting_client_gets_every_later_event_once_in_order(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=40&delay_ms=15")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    seen: list[dict[str, Any]] = []
    # First connection: take a few events, then drop the socket mid-stream.
    async with connect(live_url, chat.person.token) as connection:
        async for data in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
            seen.append(data["messageStream"])
            if len(seen) == 4:
                break
    # Reconnect with the last seq seen, as a client would, twice.
    for _ in range(2):
        async with connect(live_url, chat.person.token) as connection:
            stream = connection.subscribe(STREAM, {"id": reply_id, "after": seen[-1]["seq"]})
            async for data in stream:
                seen.append(data["messageStream"])
                if seen[-1]["__typename"] == "ReplyCompleted" or len(seen) % 7 == 0:
                    break
        if seen[-1]["__typename"] == "ReplyCompleted":
            break
    if seen[-1]["__typename"] != "ReplyCompleted":
        seen += await collect(live_url, chat.person.token, reply_id, seen[-1]["seq"])
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(set(seqs)), "an event was repeated or out of order"
    assert seen[-1]["message"]["content"] == text_of(seen), "a token was lost"


async def test_stop_keeps_the_partial_answer_and_stopping_twice_is_a_typed_error(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=200&delay_ms=20")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    events: list[dict[str, Any]] = []
    async with connect(live_url, chat.person.token) as connection:
        async for data in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
            events.append(data["messageStream"])
            if len(events) == 3:
                stopped = await gql.data(STOP, {"id": reply_id}, token=chat.person.token)
                assert stopped["stopGeneration"]["__typename"] == "ChatMessage"
    final = events[-1]
    assert final["__typename"] == "ReplyCompleted"
    assert final["message"]["status"] == "CANCELLED"
    assert 0 < len(final["message"]["content"]) < 200 * 3
    assert final["message"]["content"] == text_of(events)
    again = await gql.data(STOP, {"id": reply_id}, token=chat.person.token)
    assert again["stopGeneration"]["__typename"] == "Conflict"
    other = await people.member()
    theirs = await gql.data(STOP, {"id": reply_id}, token=other.token)
    assert theirs["stopGeneration"]["__typename"] == "NotFound"


async def test_a_client_that_disconnects_does_not_kill_the_run(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=30&delay_ms=10")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    async with connect(live_url, chat.person.token) as connection:
        async for _ in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
            break
    stored = await wait_for_status(chat, reply_id)
    assert stored["status"] == "COMPLETED"
    assert len(stored["content"].split()) == 30


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("429", "LLM_RATE_LIMITED"),
        ("401", "LLM_UNAUTHORIZED"),
        ("500", "LLM_UNAVAILABLE"),
        ("timeout", "LLM_TIMEOUT"),
        ("refused", "LLM_UNAVAILABLE"),
    ],
)
async def test_a_provider_failure_mid_stream_ends_with_a_typed_code_and_keeps_the_text(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
    error: str,
    code: str,
) -> None:
    chat = await make_chat(gql, people, container, f"scripted?tokens=10&fail_after=3&error={error}")
    reply_id = (await chat.send("Payroll dates?"))["assistantMessage"]["id"]
    events = await collect(live_url, chat.person.token, reply_id)
    assert events[-1]["__typename"] == "ReplyFailed"
    assert events[-1]["code"] == code
    stored = await wait_for_status(chat, reply_id)
    assert stored["status"] == "FAILED"
    assert stored["errorCode"] == code
    assert stored["content"] == text_of(events)
    assert len(stored["content"].split()) == 3


async def test_the_legacy_graphql_ws_protocol_streams_too(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply_id = (await chat.send())["assistantMessage"]["id"]
    events = await collect(live_url, chat.person.token, reply_id, protocol=LEGACY_WS)
    assert events[0]["__typename"] == "ReplyStarted"
    assert events[-1]["__typename"] == "ReplyCompleted"


async def test_another_member_cannot_follow_my_reply(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply_id = (await chat.send())["assistantMessage"]["id"]
    other = await people.member()
    async with connect(live_url, other.token) as connection:
        with pytest.raises(AssertionError, match="NOT_FOUND"):
            async for _ in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
                pass


async def test_a_run_whose_process_died_is_marked_failed(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    # A reply left STREAMING by a process that is gone: no run, no heartbeat.
    orphan = await stored_reply(chat, container, live_url, "half an ans", MessageStatus.STREAMING)
    async with container.db.transaction() as session:
        row = await session.get(ChatMessageRow, orphan.id)
        assert row is not None
        row.updated_at = row.updated_at.replace(year=2000)
    assert await container.runs.sweep() == 1
    events = await collect(live_url, chat.person.token, str(orphan.id))
    assert events[-1]["__typename"] == "ReplyFailed"
    assert events[-1]["code"] == "INTERRUPTED"
    stored = next(m for m in await chat.messages() if m["id"] == str(orphan.id))
    assert stored["status"] == "FAILED"
    assert stored["content"] == "half an ans"


async def test_no_database_connection_is_held_while_the_model_generates(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=60&delay_ms=10")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    async with connect(live_url, chat.person.token) as connection:
        seen = 0
        async for _ in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
            seen += 1
            if seen == 3:
                # Mid-reply: the run is waiting on the model with no connection out.
                checked_out = [e.sync_engine.pool.checkedout() for e in container.db.engines]
                assert checked_out == [0] * len(checked_out)
                break
    await wait_for_status(chat, reply_id)


async def test_a_stop_right_after_sending_ends_the_reply_cancelled(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=500&delay_ms=5")
    reply_id = (await chat.send())["assistantMessage"]["id"]
    await gql.data(STOP, {"id": reply_id}, token=chat.person.token)
    events = await collect(live_url, chat.person.token, reply_id)
    assert events[-1]["__typename"] == "ReplyCompleted"
    assert events[-1]["message"]["status"] == "CANCELLED"
    assert len(events[-1]["message"]["content"].split()) < 500


async def test_resuming_an_expired_stream_gets_its_end_with_the_whole_reply(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    # A finished reply whose stream is gone (retention passed, or a restart); its
    # stream had ended at seq 12.
    old = await stored_reply(
        chat, container, live_url, "Annual leave is 25 days.", MessageStatus.COMPLETED, 12
    )
    token, reply_id = chat.person.token, str(old.id)
    whole = await collect(live_url, token, reply_id)
    assert [(e["__typename"], e["seq"]) for e in whole] == [
        ("ReplyStarted", 1),
        ("ReplyDelta", 2),
        ("ReplyCompleted", 12),
    ]
    assert text_of(whole) == "Annual leave is 25 days."
    resumed = await collect(live_url, token, reply_id, after=5)
    assert [(e["__typename"], e["seq"]) for e in resumed] == [("ReplyCompleted", 12)]
    assert resumed[0]["message"]["content"] == "Annual leave is 25 days."
    # A client that saw the end gets nothing more; one past it is refused, typed,
    # rather than given an end numbered after what it claims to have seen.
    assert await collect(live_url, token, reply_id, after=12) == []
    for after in (13, 40, 2147483647):
        with pytest.raises(AssertionError, match="INVALID_INPUT") as refused:
            await collect(live_url, token, reply_id, after=after)
        assert "afterSeq" in str(refused.value)
        assert "cannot represent" not in str(refused.value)


async def test_a_reply_ends_with_the_seq_stored_with_it_after_its_stream_expires(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply_id = (await chat.send())["assistantMessage"]["id"]
    live = await collect(live_url, chat.person.token, reply_id)
    end = live[-1]["seq"]
    async with container.db.read() as session:
        stored = await session.get(ChatMessageRow, uuid.UUID(reply_id))
    assert stored is not None
    assert stored.stream_seq == end
    # When the broker no longer holds the stream
    events = await container.broker.events(stream_name(stored.id))
    assert events[-1].seq == end
    await _forget_stream(container, stored.id)
    # Then a client resuming mid-stream gets the end it would have got live
    resumed = await collect(live_url, chat.person.token, reply_id, after=3)
    assert [(e["__typename"], e["seq"]) for e in resumed] == [("ReplyCompleted", end)]
    assert resumed[0]["message"]["content"] == text_of(live)


async def _forget_stream(container: Container, message_id: uuid.UUID) -> None:
    """Expire a finished reply's stream now, as retention would."""
    broker: Any = container.broker
    memory = getattr(broker, "_streams", None)
    if memory is not None:
        memory.pop(stream_name(message_id), None)
    else:
        await broker.redis.delete(broker._key(stream_name(message_id)))


async def append(container: Container, message_id: uuid.UUID, event: ReplyEvent) -> None:
    """Add ``event`` to a reply's stream as its run would."""
    await container.broker.append(stream_name(message_id), encode(event))


async def begun_stream(
    container: Container, chat: Chat, reply: ChatMessageRow, *texts: str
) -> None:
    """Write a reply's stream as its run would have begun it: ``ReplyStarted``, then a
    delta per text."""
    assert reply.parent_id is not None
    await append(container, reply.id, ReplyStarted(1, reply.id, reply.parent_id, chat.session_id))
    for seq, text in enumerate(texts, start=2):
        await append(container, reply.id, ReplyDelta(seq, text))


async def _stream_without_its_end(chat: Chat, container: Container, url: str) -> ChatMessageRow:
    """A reply already stored as completed whose stream holds its start and two of its
    three tokens: its run has stored it (its end to be seq 5) and not yet published the
    rest."""
    reply = await stored_reply(chat, container, url, "one two three", MessageStatus.COMPLETED, 5)
    await begun_stream(container, chat, reply, "one ", "two ")
    return reply


async def test_resuming_a_stored_reply_whose_end_is_on_its_way_gets_the_rest_in_order(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply = await _stream_without_its_end(chat, container, live_url)
    following = asyncio.create_task(collect(live_url, chat.person.token, str(reply.id), after=2))
    await asyncio.sleep(0.3)
    assert not following.done()
    await append(container, reply.id, ReplyDelta(4, "three"))
    async with container.db.read() as session:
        stored = await session.get(ChatMessageRow, reply.id)
    assert stored is not None
    await append(container, reply.id, ReplyCompleted(5, stored))
    events = await asyncio.wait_for(following, 10)
    assert text_of(events) == "two three"
    assert (events[-1]["__typename"], events[-1]["seq"]) == ("ReplyCompleted", 5)


async def test_a_stored_reply_whose_stream_never_ends_is_ended_from_the_database(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply = await _stream_without_its_end(chat, container, live_url)
    chat_settings = container.settings.chat
    grace = chat_settings.stream_end_grace_seconds
    chat_settings.stream_end_grace_seconds = 0.3  # its process died before publishing
    try:
        events = await asyncio.wait_for(
            collect(live_url, chat.person.token, str(reply.id), after=1), 10
        )
    finally:
        chat_settings.stream_end_grace_seconds = grace
    assert text_of(events[:-1]) == "one two "
    assert (events[-1]["__typename"], events[-1]["seq"]) == ("ReplyCompleted", 5)
    assert events[-1]["message"]["content"] == "one two three"


async def test_a_followed_reply_stored_without_its_end_ever_published_ends_for_its_follower(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    # Given a reply being generated (its row and stream written as its run would)
    reply = await stored_reply(chat, container, live_url, "", MessageStatus.STREAMING)
    await begun_stream(container, chat, reply, "one ")
    chat_settings = container.settings.chat
    grace = chat_settings.stream_end_grace_seconds
    chat_settings.stream_end_grace_seconds = 0.3
    try:
        # and a client following it mid-stream, through quiet spells of the model
        following = asyncio.create_task(collect(live_url, chat.person.token, str(reply.id)))
        await asyncio.sleep(0.5)
        await append(container, reply.id, ReplyDelta(3, "two"))
        await asyncio.sleep(0.5)
        assert not following.done()
        # When its run stores the reply, and its process dies before publishing the end
        async with container.db.transaction() as session:
            row = await session.get(ChatMessageRow, reply.id)
            assert row is not None
            row.content, row.status = "one two", MessageStatus.COMPLETED
            row.stream_seq = 4
        # Then the follower is told it ended, as stored, after what it saw
        events = await asyncio.wait_for(following, 10)
    finally:
        chat_settings.stream_end_grace_seconds = grace
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert events[-1]["__typename"] == "ReplyCompleted"
    assert events[-1]["message"]["status"] == "COMPLETED"
    assert events[-1]["message"]["content"] == text_of(events) == "one two"


async def test_a_reply_finished_before_its_streams_length_was_kept_still_ends(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    # Stored without the seq of its end (finished before that was kept), stream gone
    old = await stored_reply(
        chat, container, live_url, "Leave is 25 days.", MessageStatus.COMPLETED
    )
    token, reply_id = chat.person.token, str(old.id)
    whole = await collect(live_url, token, reply_id)
    assert [(e["__typename"], e["seq"]) for e in whole] == [
        ("ReplyStarted", 1),
        ("ReplyDelta", 2),
        ("ReplyCompleted", 3),
    ]
    # A client that saw more of its stream than the rebuilt one holds gets the end next
    resumed = await collect(live_url, token, reply_id, after=10)
    assert [(e["__typename"], e["seq"]) for e in resumed] == [("ReplyCompleted", 11)]
    assert resumed[0]["message"]["content"] == "Leave is 25 days."


async def test_a_reply_deleted_while_it_is_followed_ends_for_its_follower(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    reply = await stored_reply(chat, container, live_url, "", MessageStatus.STREAMING)
    await begun_stream(container, chat, reply, "one ")
    chat_settings = container.settings.chat
    grace = chat_settings.stream_end_grace_seconds
    chat_settings.stream_end_grace_seconds = 0.3
    events: list[dict[str, Any]] = []
    try:
        async with connect(live_url, chat.person.token) as connection:
            stream = connection.subscribe(STREAM, {"id": str(reply.id), "after": 0})
            async for data in stream:
                events.append(data["messageStream"])
                if len(events) == 2:  # it has read the stream: now delete the reply
                    async with container.db.transaction() as session:
                        row = await session.get(ChatMessageRow, reply.id)
                        assert row is not None
                        row.soft_delete()
    finally:
        chat_settings.stream_end_grace_seconds = grace
    assert [(e["__typename"], e["seq"]) for e in events] == [
        ("ReplyStarted", 1),
        ("ReplyDelta", 2),
        ("ReplyFailed", 3),
    ]
    assert events[-1]["code"] == "NOT_FOUND"
    # and asked for afresh, it is not there
    with pytest.raises(AssertionError, match="NOT_FOUND"):
        await collect(live_url, chat.person.token, str(reply.id))
