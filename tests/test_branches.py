"""Branches, titles, feedback, limits, the chat subscription and keep-alives."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import ChatSession as ChatSessionRow
from ezhr_graphql.models import MessageStatus
from ezhr_graphql.settings import ChatSettings
from tests.conftest import GraphQLClient, PeopleFactory, make_settings, serving
from tests.databases import DbUnderTest
from tests.test_replies import STREAM, Chat, collect, make_chat
from tests.wsclient import connect

BRANCH = """
query ($id: ID!) {
  chatSession(id: $id) {
    ... on ChatSession {
      title
      currentBranch { id role content siblingIndex siblings { id } }
    }
  }
}"""
REGENERATE = """
mutation ($id: ID!) {
  regenerateMessage(messageId: $id) {
    __typename ... on SentMessage { assistantMessage { id } userMessage { id } }
    ... on UserError { code } ... on InvalidInput { field }
  }
}"""
SWITCH = """
mutation ($id: ID!) {
  switchBranch(messageId: $id) {
    __typename ... on ChatSession { currentBranch { id } } ... on UserError { code }
  }
}"""
RATE = """
mutation ($id: ID!, $rating: Rating!, $comment: String) {
  rateMessage(messageId: $id, rating: $rating, comment: $comment) {
    __typename ... on Feedback { rating comment } ... on UserError { code }
    ... on InvalidInput { field }
  }
}"""
CHAT = """
subscription ($input: SendMessageInput!) {
  chat(input: $input) {
    __typename
    ... on ReplyStarted { seq messageId userMessageId sessionId }
    ... on ReplyDelta { seq text }
    ... on ReplyCompleted { message { status content } }
    ... on ReplyFailed { code reason }
  }
}"""
UPDATES = """
subscription {
  sessionUpdates {
    __typename
    ... on SessionTitleChanged { sessionId title }
    ... on MessageStatusChanged { sessionId messageId status }
  }
}"""


async def branch(chat: Chat) -> dict[str, Any]:
    data = await chat.gql.data(BRANCH, {"id": str(chat.session_id)}, token=chat.person.token)
    result: dict[str, Any] = data["chatSession"]
    return result


async def ask(chat: Chat, url: str, question: str, **extra: Any) -> dict[str, Any]:
    sent = await chat.send(question, **extra)
    await collect(url, chat.person.token, sent["assistantMessage"]["id"])
    return sent


async def test_regenerate_and_edit_make_branches_a_client_can_switch_between(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    first = await ask(chat, live_url, "Question one")
    second = await ask(chat, live_url, "Question two")
    a2 = second["assistantMessage"]["id"]

    regenerated = (await gql.data(REGENERATE, {"id": a2}, token=chat.person.token))[
        "regenerateMessage"
    ]
    assert regenerated["userMessage"]["id"] == second["userMessage"]["id"]
    a2b = regenerated["assistantMessage"]["id"]
    await collect(live_url, chat.person.token, a2b)

    current = (await branch(chat))["currentBranch"]
    assert [m["role"] for m in current] == ["USER", "ASSISTANT", "USER", "ASSISTANT"]
    assert current[-1]["id"] == a2b
    assert [s["id"] for s in current[-1]["siblings"]] == [a2, a2b]
    assert current[-1]["siblingIndex"] == 1

    # Edit: a new question after the first reply starts another branch.
    edited = await ask(
        chat, live_url, "Question two, edited", parentMessageId=first["assistantMessage"]["id"]
    )
    current = (await branch(chat))["currentBranch"]
    assert [m["content"] for m in current if m["role"] == "USER"] == [
        "Question one",
        "Question two, edited",
    ]
    assert [s["id"] for s in current[2]["siblings"]] == [
        second["userMessage"]["id"],
        edited["userMessage"]["id"],
    ]

    # Switch back to the original second question: lands on its newest reply.
    switched = (
        await gql.data(SWITCH, {"id": second["userMessage"]["id"]}, token=chat.person.token)
    )["switchBranch"]
    assert switched["currentBranch"][-1]["id"] == a2b
    # Nothing was deleted: all seven messages are still there.
    assert len(await chat.messages()) == 7
    # The next question continues the current branch.
    follow = await ask(chat, live_url, "Question three")
    current = (await branch(chat))["currentBranch"]
    assert current[-2]["id"] == follow["userMessage"]["id"]
    assert current[-3]["id"] == a2b


BOUNDED = """
query ($id: ID!, $last: Int!, $first: Int!) {
  chatSession(id: $id) {
    ... on ChatSession {
      whole: currentBranch { id }
      newest: currentBranch(last: $last) { id siblingCount siblings { id } }
      chosen: currentBranch(last: 1) { siblings(first: $first) { id } }
    }
  }
}"""


async def long_branch(
    chat: Chat, container: Container, turns: int, versions: int
) -> tuple[list[str], list[str]]:
    """A branch of ``turns`` messages written straight to the database, whose last
    message has ``versions`` versions (the current one the newest): the branch's ids,
    and the versions' ids, oldest first."""
    start = datetime.now(UTC) - timedelta(hours=1)
    rows: list[ChatMessageRow] = []
    parent: uuid.UUID | None = None
    for i in range(turns + versions - 1):
        row = ChatMessageRow(
            id=uuid.uuid4(),
            session_id=chat.session_id,
            parent_id=parent,
            role="USER" if i % 2 == 0 else "ASSISTANT",
            content=f"message {i}",
            status=MessageStatus.COMPLETED,
            created_at=start + timedelta(seconds=i),
        )
        rows.append(row)
        if i < turns - 1:
            parent = row.id
    async with container.db.transaction() as session:
        session.add_all(rows)
        await session.flush()
        owned = await session.get(ChatSessionRow, chat.session_id)
        assert owned is not None
        owned.current_message_id = rows[-1].id
    ids = [str(row.id) for row in rows]
    return ids[: turns - 1] + ids[-1:], ids[turns - 1 :]


async def test_a_branch_and_its_versions_are_lists_of_bounded_size(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    # given a branch of 120 messages whose last one was regenerated into 15 versions
    chat = await make_chat(gql, people, container)
    ids, versions = await long_branch(chat, container, turns=120, versions=15)
    variables = {"id": str(chat.session_id), "last": 3, "first": 12}
    # when the branch is read
    data = (await gql.data(BOUNDED, variables, token=chat.person.token))["chatSession"]
    # then it holds the newest 100 messages by default, the newest `last` when asked
    assert [m["id"] for m in data["whole"]] == ids[-100:]
    assert [m["id"] for m in data["newest"]] == ids[-3:]
    # and a message's versions are the oldest 10 by default, `first` when asked
    current = data["newest"][-1]
    assert current["siblingCount"] == 15
    assert [s["id"] for s in current["siblings"]] == versions[:10]
    assert [s["id"] for s in data["chosen"][0]["siblings"]] == versions[:12]
    assert data["newest"][0]["siblingCount"] == 1
    # sizes out of range are refused, each naming its argument
    for last, first, field in ((101, 1, "last"), (1, 101, "first"), (-1, 1, "last")):
        body = await gql(
            BOUNDED,
            {"id": str(chat.session_id), "last": last, "first": first},
            token=chat.person.token,
        )
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "INVALID_INPUT", "field": field}
        ]


async def test_history_sent_to_the_llm_is_the_current_branch(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    first = await ask(chat, live_url, "alpha question")
    await ask(chat, live_url, "beta question")
    # Edit the second turn: the new branch holds alpha and gamma, not beta.
    edited = await ask(
        chat, live_url, "gamma question", parentMessageId=first["assistantMessage"]["id"]
    )
    reply = next(m for m in await chat.messages() if m["id"] == edited["assistantMessage"]["id"])
    # The scripted model echoes the last user turn; the prompt size tells the rest.
    assert reply["content"].startswith("You asked: gamma question")
    beta_reply = [m for m in await chat.messages() if m["content"].startswith("You asked: beta")]
    assert reply["promptTokens"] < beta_reply[0]["promptTokens"] + 10


async def test_the_first_exchange_titles_the_session_and_other_tabs_hear_of_it(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=8")
    updates: list[dict[str, Any]] = []
    async with connect(live_url, chat.person.token) as tab:
        listening = tab.subscribe(UPDATES)

        async def listen() -> None:
            async for data in listening:
                updates.append(data["sessionUpdates"])
                if data["sessionUpdates"]["__typename"] == "SessionTitleChanged":
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        sent = await ask(chat, live_url, "Parental leave rules")
        await asyncio.wait_for(listener, 10)
    title = updates[-1]
    assert title["sessionId"] == str(chat.session_id)
    assert title["title"]
    assert (await branch(chat))["title"] == title["title"]
    statuses = [u for u in updates if u["__typename"] == "MessageStatusChanged"]
    assert [s["status"] for s in statuses] == ["STREAMING", "COMPLETED"]
    assert statuses[-1]["messageId"] == sent["assistantMessage"]["id"]
    # Later exchanges keep the title.
    await ask(chat, live_url, "And adoption?")
    await asyncio.sleep(0.1)
    assert (await branch(chat))["title"] == title["title"]


async def test_feedback_by_the_owner_rating_again_replaces_it(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    sent = await ask(chat, live_url, "Sick leave?")
    reply = sent["assistantMessage"]["id"]
    up = await gql.data(RATE, {"id": reply, "rating": "UP"}, token=chat.person.token)
    assert up["rateMessage"] == {"__typename": "Feedback", "rating": "UP", "comment": None}
    down = await gql.data(
        RATE, {"id": reply, "rating": "DOWN", "comment": "Outdated"}, token=chat.person.token
    )
    assert down["rateMessage"] == {
        "__typename": "Feedback",
        "rating": "DOWN",
        "comment": "Outdated",
    }
    async with container.db.read() as session:
        from sqlalchemy import func, select

        from ezhr_graphql.models import ChatFeedback

        count = await session.scalar(select(func.count()).select_from(ChatFeedback))
    assert count == 1
    question = await gql.data(
        RATE, {"id": sent["userMessage"]["id"], "rating": "UP"}, token=chat.person.token
    )
    assert question["rateMessage"]["__typename"] == "InvalidInput"
    other = await people.member()
    theirs = await gql.data(RATE, {"id": reply, "rating": "UP"}, token=other.token)
    assert theirs["rateMessage"]["__typename"] == "NotFound"


async def test_limits_are_typed_errors(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container, "scripted?tokens=400&delay_ms=20")
    too_long = await chat.send("x" * (container.settings.chat.max_message_length + 1))
    assert too_long["__typename"] == "LimitExceeded"
    assert too_long["limit"] == "messageLength"

    # Concurrent replies per user, counted across the user's sessions.
    limit = container.settings.chat.max_concurrent_runs_per_user
    agent_id = None
    running = []
    from tests.factories import make_sessions

    async with container.db.read() as session:
        from ezhr_graphql.models import ChatSession

        agent_id = (await session.get(ChatSession, chat.session_id)).agent_id  # type: ignore[union-attr]
    sessions = await make_sessions(container, chat.person, agent_id, limit + 1)
    for session in sessions[:limit]:
        other = Chat(gql, chat.person, session.id)
        sent = await other.send("long one")
        assert sent["__typename"] == "SentMessage"
        running.append(sent["assistantMessage"]["id"])
    refused = await Chat(gql, chat.person, sessions[limit].id).send("one more")
    assert refused["__typename"] == "LimitExceeded"
    assert refused["limit"] == "concurrentReplies"
    # Asking again in a session whose reply is still running is a conflict.
    busy = await Chat(gql, chat.person, sessions[0].id).send("again")
    assert busy["__typename"] == "Conflict"
    for reply in running:
        await gql.data(
            "mutation ($id: ID!) { stopGeneration(messageId: $id) { __typename } }",
            {"id": reply},
            token=chat.person.token,
        )
    for reply in running:
        events = await collect(live_url, chat.person.token, reply)
        assert events[-1]["message"]["status"] == "CANCELLED"
    allowed = await Chat(gql, chat.person, sessions[limit].id).send("now it fits")
    assert allowed["__typename"] == "SentMessage"


async def test_the_chat_subscription_sends_and_streams_in_one_operation(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    chat = await make_chat(gql, people, container)
    payload = {
        "sessionId": str(chat.session_id),
        "content": "What is the code of conduct?",
        "clientMessageId": "c-1",
    }
    async with connect(live_url, chat.person.token) as connection:
        events = [d["chat"] async for d in connection.subscribe(CHAT, {"input": payload})]
    assert events[0]["__typename"] == "ReplyStarted"
    assert events[0]["sessionId"] == str(chat.session_id)
    assert events[-1]["message"]["status"] == "COMPLETED"
    async with connect(live_url, chat.person.token) as connection:
        bad = {
            **payload,
            "sessionId": "00000000-0000-0000-0000-000000000000",
            "clientMessageId": "c-2",
        }
        refused = [d["chat"] async for d in connection.subscribe(CHAT, {"input": bad})]
    assert refused == [
        {"__typename": "ReplyFailed", "code": "NOT_FOUND", "reason": refused[0]["reason"]}
    ]


async def test_quiet_connections_get_a_keep_alive(
    people: PeopleFactory, container: Container, settings: Any
) -> None:
    quick = make_settings(DbUnderTest(settings.database), chat=ChatSettings(keepalive_seconds=0.2))
    member = await people.member()
    async with (
        serving(create_app(quick, container)) as url,
        websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for _ in range(2):  # again and again, for as long as it is quiet
            ping = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert ping == {"type": "ping"}


async def test_quiet_legacy_connections_get_keep_alive_messages(
    people: PeopleFactory, container: Container, settings: Any
) -> None:
    quick = make_settings(DbUnderTest(settings.database), chat=ChatSettings(keepalive_seconds=0.2))
    member = await people.member()
    async with (
        serving(create_app(quick, container)) as url,
        websockets.connect(url, subprotocols=["graphql-ws"]) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for _ in range(3):  # one at once, then one per interval
            keep_alive = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert keep_alive == {"type": "ka"}


@pytest.mark.parametrize("after", [-5, 0])
async def test_negative_after_seq_means_from_the_start(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str, after: int
) -> None:
    chat = await make_chat(gql, people, container)
    reply = (await ask(chat, live_url, "q"))["assistantMessage"]["id"]
    async with connect(live_url, chat.person.token) as connection:
        events = [
            d["messageStream"]
            async for d in connection.subscribe(STREAM, {"id": reply, "after": after})
        ]
    assert events[0]["__typename"] == "ReplyStarted"


async def test_concurrent_sends_across_sessions_respect_the_limit(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    from tests.factories import make_sessions

    chat = await make_chat(gql, people, container, "scripted?tokens=400&delay_ms=20")
    limit = container.settings.chat.max_concurrent_runs_per_user
    async with container.db.read() as session:
        from ezhr_graphql.models import ChatSession

        row = await session.get(ChatSession, chat.session_id)
    assert row is not None
    sessions = await make_sessions(container, chat.person, row.agent_id, limit + 2)
    results = await asyncio.gather(
        *(Chat(gql, chat.person, s.id).send("at once") for s in sessions)
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["LimitExceeded"] * 2 + ["SentMessage"] * limit
    for result in results:
        if result["__typename"] == "SentMessage":
            reply = result["assistantMessage"]["id"]
            await gql.data(
                "mutation ($id: ID!) { stopGeneration(messageId: $id) { __typename } }",
                {"id": reply},
                token=chat.person.token,
            )
            await collect(live_url, chat.person.token, reply)
