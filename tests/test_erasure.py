"""Export and erasure: a member downloads what the product holds about them (and
nobody else's); erased, by themself or an administrator, nothing they wrote remains
in the database or on the broker, their tokens stop working, their email is free
again, company knowledge and other people's data stay, and the audit log keeps
counts only."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import Agent, AuditAction, AuditEvent, ChatMessage, ChatSession, User
from ezhr_graphql.services.replies.streams import stream_name
from tests.conftest import PASSWORD_FOR_PEOPLE, GraphQLClient, PeopleFactory, Person, make_settings
from tests.databases import POSTGRES_URL, DbUnderTest
from tests.factories import make_agent, make_sessions
from tests.test_retention import held_text

SEND = """
mutation ($input: SendMessageInput!) {
  sendMessage(input: $input) {
    __typename ... on SentMessage { assistantMessage { id } }
  }
}"""
RATE = """
mutation ($id: ID!, $c: String) {
  rateMessage(messageId: $id, rating: DOWN, comment: $c) { __typename }
}"""
CREATE_FOLDER = "mutation ($n: String!) { createFolder(name: $n) { ... on Folder { id } } }"
MOVE = """
mutation ($id: ID!, $f: ID) { moveChatSession(id: $id, folderId: $f) { __typename } }"""
DELETE_SESSION = "mutation ($id: ID!) { deleteChatSession(id: $id) { __typename } }"
EXPORT = """
mutation {
  exportMyData {
    __typename ... on DataExport { fileName contentType json }
  }
}"""
ERASE_ME = """
mutation ($confirm: String!) {
  eraseMyData(confirm: $confirm) {
    __typename
    ... on ErasedUser { userId sessions messages feedback folders }
    ... on InvalidInput { field }
  }
}"""
ERASE_USER = """
mutation ($id: ID!) {
  eraseUser(userId: $id) {
    __typename
    ... on ErasedUser { userId sessions messages feedback folders }
    ... on InvalidInput { field }
  }
}"""
SESSIONS = "{ chatSessions { __typename } }"
REGISTER = """
mutation ($input: RegisterInput!) { register(input: $input) { __typename } }"""
PASSWORD = "correct horse battery"


@dataclass
class Talk:
    """A member's conversations: every text in them holds ``mark``."""

    mark: str
    replies: list[str]


async def wait_runs(container: Container) -> None:
    """Until no reply is being generated in this process."""
    for _ in range(1000):
        if not container.runs._runs:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("replies still running after 10 s")


async def talk(
    gql: GraphQLClient, container: Container, person: Person, agent_id: uuid.UUID, mark: str
) -> Talk:
    """Two conversations of ``person`` through the API (replies streamed on the
    broker, rated with a comment), one in a folder, the other deleted."""
    folder = await gql.data(CREATE_FOLDER, {"n": f"{mark} folder"}, person.token)
    sessions = await make_sessions(container, person, agent_id, 2)
    replies = []
    for session in sessions:
        async with container.db.transaction() as db:
            await db.execute(
                update(ChatSession)
                .where(ChatSession.id == session.id)
                .values(title=f"{mark} title")
            )
        variables = {
            "sessionId": str(session.id),
            "content": f"{mark} question",
            "clientMessageId": uuid.uuid4().hex,
        }
        sent = await gql.data(SEND, {"input": variables}, person.token)
        replies.append(sent["sendMessage"]["assistantMessage"]["id"])
    await wait_runs(container)
    for reply in replies:
        rated = await gql.data(RATE, {"id": reply, "c": f"{mark} comment"}, person.token)
        assert rated["rateMessage"]["__typename"] == "Feedback"
    first, second = (str(s.id) for s in sessions)
    await gql.data(MOVE, {"id": first, "f": folder["createFolder"]["id"]}, person.token)
    await gql.data(DELETE_SESSION, {"id": second}, person.token)
    return Talk(mark, replies)


async def streams_of(container: Container, replies: list[str]) -> list[bool]:
    return [await container.broker.exists(stream_name(uuid.UUID(r))) for r in replies]


async def audit_events(container: Container, user_id: uuid.UUID) -> list[AuditEvent]:
    async with container.db.read() as db:
        found = await db.scalars(select(AuditEvent).where(AuditEvent.target_id == user_id))
        return list(found)


async def test_an_erased_member_leaves_no_trace_and_the_rest_stays(
    gql: GraphQLClient, container: Container, people: PeopleFactory
) -> None:
    # Given a member and another member who both talked with an agent an admin made
    admin, member, other = await people.admin(), await people.member(), await people.member()
    agent = await make_agent(container, admin)
    mine = await talk(gql, container, member, agent.id, "erase-me")
    theirs = await talk(gql, container, other, agent.id, "keep-them")
    assert await streams_of(container, mine.replies) == [True, True]

    # When the member erases themself, confirming with their email
    erased = await gql.data(ERASE_ME, {"confirm": member.email.upper()}, member.token)

    # Then it says what went, and nothing they wrote is left, in rows or streams
    assert erased["eraseMyData"] == {
        "__typename": "ErasedUser",
        "userId": str(member.id),
        "sessions": 2,
        "messages": 4,
        "feedback": 2,
        "folders": 1,
    }
    text = await held_text(container)
    assert "erase-me" not in text
    assert await streams_of(container, mine.replies) == [False, False]
    async with container.db.read() as db:
        left = await db.scalar(select(User.__table__).where(User.__table__.c.id == member.id))
        row = (
            await db.execute(select(User.__table__).where(User.__table__.c.id == member.id))
        ).one()
    assert left is not None
    assert row.email == f"erased-{member.id.hex}@erased.invalid"
    assert (row.display_name, row.password_hash, row.groups) == ("Erased user", "", [])
    assert row.deleted_at is not None
    assert row.deactivated_at is not None
    # And the other member's conversations, feedback and streams are untouched
    for part in ("title", "question", "comment", "folder"):
        assert f"keep-them {part}" in text
    assert await streams_of(container, theirs.replies) == [True, True]
    # And company knowledge stays: the agent answers on
    async with container.db.read() as db:
        assert await db.get(Agent, agent.id) is not None
    # And the audit log says who erased whom, with counts and no content
    (event,) = [
        e for e in await audit_events(container, member.id) if e.action is AuditAction.USER_ERASED
    ]
    assert event.actor_id == member.id
    assert event.details == {"sessions": 2, "messages": 4, "feedback": 2, "folders": 1}
    recorded = json.dumps([event.details, event.target_type, event.address])
    assert "erase-me" not in recorded
    assert member.email not in recorded
    # And their old token is refused, and their email can register again
    refused = await gql(SESSIONS, token=member.token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    again = await gql.data(REGISTER, {"input": {"email": member.email, "password": PASSWORD}})
    assert again["register"]["__typename"] == "AuthPayload"


async def test_an_admin_erases_a_user_whose_reply_is_still_streaming(
    gql: GraphQLClient, container: Container, people: PeopleFactory
) -> None:
    # Given a member whose reply is being generated (slowly), who uploaded nothing
    admin, member = await people.admin(), await people.member()
    slow = await make_agent(container, admin, llm="scripted?tokens=5000&delay_ms=20")
    (session,) = await make_sessions(container, member, slow.id, 1)
    variables = {"sessionId": str(session.id), "content": "slow-secret", "clientMessageId": "c1"}
    sent = await gql.data(SEND, {"input": variables}, member.token)
    reply = uuid.UUID(sent["sendMessage"]["assistantMessage"]["id"])
    for _ in range(500):
        if await container.broker.exists(stream_name(reply)):
            break
        await asyncio.sleep(0.01)
    assert await container.broker.exists(stream_name(reply))

    # When an admin erases them
    erased = await gql.data(ERASE_USER, {"id": str(member.id)}, admin.token)
    assert erased["eraseUser"]["__typename"] == "ErasedUser"
    assert erased["eraseUser"]["messages"] == 2

    # Then the run stops, and neither its rows nor its stream come back
    await wait_runs(container)
    assert not await container.broker.exists(stream_name(reply))
    async with container.db.read() as db:
        assert await db.scalar(select(ChatMessage.__table__.c.id)) is None
    assert "slow-secret" not in await held_text(container)
    (event,) = await audit_events(container, member.id)
    assert (event.action, event.actor_id) == (AuditAction.USER_ERASED, admin.id)


async def test_wrong_confirmations_and_targets_are_typed_errors(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()
    # A confirmation that is not the caller's email
    for confirm in ("", "someone@example.com", "x" * 10_000, "\x00"):
        wrong = await gql.data(ERASE_ME, {"confirm": confirm}, member.token)
        assert wrong["eraseMyData"] == {"__typename": "InvalidInput", "field": "confirm"}
    # Malformed, unknown, oneself, and already erased
    malformed = await gql.data(ERASE_USER, {"id": "not-an-id"}, admin.token)
    assert malformed["eraseUser"] == {"__typename": "InvalidInput", "field": "userId"}
    unknown = await gql.data(ERASE_USER, {"id": str(uuid.uuid4())}, admin.token)
    assert unknown["eraseUser"]["__typename"] == "NotFound"
    myself = await gql.data(ERASE_USER, {"id": str(admin.id)}, admin.token)
    assert myself["eraseUser"]["__typename"] == "PermissionDenied"
    first = await gql.data(ERASE_USER, {"id": str(member.id)}, admin.token)
    assert first["eraseUser"]["__typename"] == "ErasedUser"
    again = await gql.data(ERASE_USER, {"id": str(member.id)}, admin.token)
    assert again["eraseUser"]["__typename"] == "NotFound"
    # The last administrator cannot erase themself; with another one, they can.
    alone = await gql.data(ERASE_ME, {"confirm": admin.email}, admin.token)
    assert alone["eraseMyData"]["__typename"] == "PermissionDenied"
    await people.admin()
    left = await gql.data(ERASE_ME, {"confirm": admin.email}, admin.token)
    assert left["eraseMyData"]["__typename"] == "ErasedUser"
    # And nobody is erased anonymously or by a member
    anonymous = await gql(ERASE_ME, {"confirm": member.email})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    by_member = await gql(ERASE_USER, {"id": str(admin.id)}, (await people.member()).token)
    assert by_member["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def export_of(gql: GraphQLClient, person: Person) -> dict[str, Any]:
    made = await gql.data(EXPORT, token=person.token)
    export = made["exportMyData"]
    assert export["__typename"] == "DataExport"
    assert export["contentType"] == "application/json"
    assert export["fileName"].endswith(".json")
    data: dict[str, Any] = json.loads(export["json"])
    return data


async def test_an_export_holds_all_of_the_callers_data_and_nobody_elses(
    gql: GraphQLClient, container: Container, people: PeopleFactory
) -> None:
    # Given two members' conversations (one of each deleted, not yet purged)
    admin, member, other = await people.admin(), await people.member(), await people.member()
    agent = await make_agent(container, admin)
    await talk(gql, container, member, agent.id, "export-mine")
    await talk(gql, container, other, agent.id, "export-theirs")

    # (and the member signed in from an address)
    await gql.data(
        "mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }",
        {"e": member.email, "p": PASSWORD_FOR_PEOPLE},
    )

    # When the member exports their data
    data = await export_of(gql, member)

    # Then it holds their profile, folders, sessions (the deleted one marked), every
    # message with its citations, and their feedback; nothing of the other member's
    assert data["profile"]["id"] == str(member.id)
    assert data["profile"]["email"] == member.email
    assert data["profile"]["attributes"]["groups"] == []
    assert [f["name"] for f in data["folders"]] == ["export-mine folder"]
    sessions = data["sessions"]
    assert len(sessions) == 2
    assert sorted(s["deletedAt"] is None for s in sessions) == [False, True]
    messages = [m for s in sessions for m in s["messages"]]
    assert sorted(m["role"] for m in messages) == ["ASSISTANT", "ASSISTANT", "USER", "USER"]
    assert all("citations" in m and "createdAt" in m for m in messages)
    assert [f["comment"] for f in data["feedback"]] == ["export-mine comment"] * 2
    assert "export-theirs" not in json.dumps(data)
    # with what the audit log holds of what they did (their sign-in, from where)
    assert [(e["action"], e["address"]) for e in data["activity"]] == [("SIGN_IN", "127.0.0.1")]
    # And the audit log records it, without content
    (event,) = [
        e for e in await audit_events(container, member.id) if e.action is not AuditAction.SIGN_IN
    ]
    assert (event.action, event.actor_id, event.details) == (
        AuditAction.USER_DATA_EXPORTED,
        member.id,
        {},
    )


async def test_an_export_costs_the_same_statements_whatever_it_holds(
    gql: GraphQLClient, container: Container, people: PeopleFactory, count_statements: Any
) -> None:
    admin, few, many = await people.admin(), await people.member(), await people.member()
    agent = await make_agent(container, admin)
    for person, count in ((few, 1), (many, 12)):
        sessions = await make_sessions(container, person, agent.id, count)
        async with container.db.transaction() as db:
            for session in sessions:
                for i in range(5):
                    db.add(ChatMessage(session_id=session.id, role="USER", content=f"m{i}"))
    await gql.data("{ viewer { email } }", token=few.token)  # warm the user caches
    await gql.data("{ viewer { email } }", token=many.token)
    counts = []
    for person in (few, many):
        count_statements.count = 0
        data = await export_of(gql, person)
        counts.append(count_statements.count)
        assert len(data["sessions"]) in (1, 12)
    assert counts[0] == counts[1], counts


@pytest.fixture
async def on_redis(
    database: DbUnderTest, redis_url: str, container: Container
) -> AsyncIterator[tuple[Container, GraphQLClient]]:
    """A server process with the Redis broker, on the suite's database."""
    process = Container.build(make_settings(database, redis_url=redis_url))
    await process.start()
    app = create_app(process.settings, process)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://redis") as http:
            yield process, GraphQLClient(http)
    finally:
        await process.close()


async def test_erasure_removes_the_reply_streams_from_redis(
    on_redis: tuple[Container, GraphQLClient], people: PeopleFactory
) -> None:
    process, gql = on_redis
    people = PeopleFactory(process)
    admin, member, other = await people.admin(), await people.member(), await people.member()
    agent = await make_agent(process, admin)
    mine = await talk(gql, process, member, agent.id, "redis-erase")
    theirs = await talk(gql, process, other, agent.id, "redis-keep")
    redis = process.broker.redis
    assert redis is not None
    key = "ezhr:stream:message:{}".format
    assert await redis.exists(*map(key, mine.replies + theirs.replies)) == 4

    await gql.data(ERASE_USER, {"id": str(member.id)}, admin.token)

    assert await redis.exists(*map(key, mine.replies)) == 0
    assert await redis.exists(*map(key, theirs.replies)) == 2
    assert "redis-erase" not in await held_text(process)
    await redis.delete(*map(key, theirs.replies))


if POSTGRES_URL is None:  # the suite's database is a SQLite file, read here as bytes

    async def test_erased_text_is_overwritten_in_the_database_file(
        gql: GraphQLClient, container: Container, people: PeopleFactory
    ) -> None:
        # Given a member's conversations, marked with words nobody else writes
        admin, member = await people.admin(), await people.member()
        agent = await make_agent(container, admin)
        mark = f"zebra-{uuid.uuid4().hex}"
        await talk(gql, container, member, agent.id, mark)
        path = container.db.sqlite_file
        assert path is not None
        assert mark.encode() in await held_bytes(path)  # the test sees what is there

        # When they erase their data
        erased = await gql.data(ERASE_ME, {"confirm": member.email}, member.token)
        assert erased["eraseMyData"]["__typename"] == "ErasedUser"

        # Then neither their words nor their email are left in the file, not even in
        # the pages the deleted rows freed, nor in the write-ahead log
        held = await held_bytes(path)
        assert mark.encode() not in held
        assert member.email.encode() not in held

    async def held_bytes(path: str) -> bytes:
        """The bytes of the database file and of its write-ahead log, as they are."""

        def read() -> bytes:
            wal = Path(path + "-wal")
            return Path(path).read_bytes() + (wal.read_bytes() if wal.exists() else b"")

        return await asyncio.to_thread(read)
