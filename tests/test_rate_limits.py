"""Rate limits: requests per user and per address, websocket connections per address,
reply runs per user; shared by every worker through Redis."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from ezhr_graphql.api.guards.ratelimit import Bearers, OpenWebSockets, RateLimit, client_address
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage, MessageStatus, Role
from ezhr_graphql.services.security import TokenIssuer
from ezhr_graphql.services.throttle import Hit, MemoryCounter, RateLimitedError
from tests.conftest import TEST_SECRET, PeopleFactory, make_settings, serving
from tests.databases import DbUnderTest
from tests.factories import make_agent, make_sessions
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, Connection, connect

TYPENAME = {"query": "{ __typename }"}
SEND = """
mutation ($input: SendMessageInput!) {
  sendMessage(input: $input) {
    __typename
    ... on SentMessage { assistantMessage { id } }
    ... on UserError { code message }
    ... on LimitExceeded { limit }
  }
}"""
REGENERATE = """
mutation ($id: ID!) {
  regenerateMessage(messageId: $id) {
    __typename ... on LimitExceeded { code limit message }
  }
}"""


@asynccontextmanager
async def limited_app(
    database: DbUnderTest, rate_limit: dict[str, Any], **overrides: Any
) -> AsyncIterator[Starlette]:
    """An app (a worker of its own) on the test database with these rate limits."""
    app = create_app(make_settings(database, rate_limit=rate_limit, **overrides))
    try:
        yield app
    finally:
        await app.state.container.close()


@asynccontextmanager
async def http(app: Starlette, address: str = "192.0.2.10") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def ask(client: httpx.AsyncClient, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await client.post("/graphql", json=TYPENAME, headers=headers)


def assert_limited(response: httpx.Response, limit: str) -> int:
    """The refusal's shape; returns its Retry-After."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "RATE_LIMITED",
        "limit": limit,
        "retryAfter": retry_after,
    }
    assert f"try again in {retry_after} seconds" in error["message"]
    return retry_after


async def test_an_address_over_its_limit_gets_429_and_other_addresses_do_not(
    database: DbUnderTest, container: Container
) -> None:
    limits = {"requests_per_minute_per_address": 3, "requests_per_minute_per_user": 100}
    async with limited_app(database, limits) as app, http(app) as busy, http(app, "::1") as other:
        for _ in range(3):
            assert (await ask(busy)).json() == {"data": {"__typename": "Query"}}
        assert_limited(await ask(busy), "requestsPerMinute")
        assert (await busy.get("/graphql?query={__typename}")).status_code == 429
        # Another address has its own count; probes and metrics are never limited.
        assert (await ask(other)).status_code == 200
        for path in ("/healthz", "/metrics"):
            assert (await busy.get(path)).status_code == 200


async def test_a_user_over_their_limit_gets_429_and_others_at_the_address_do_not(
    database: DbUnderTest, people: PeopleFactory
) -> None:
    ana, bo = await people.member(), await people.member()
    # Ana's id under a key that is not ours: it must not spend Ana's allowance.
    forged = jwt.encode(
        {
            "sub": str(ana.id),
            "iss": "ezhr-graphql",
            "iat": int(datetime.now(UTC).timestamp()),
            "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp()),
        },
        "not-the-signing-key-but-just-as-long-0123456789",
        algorithm="HS256",
    )
    limits = {"requests_per_minute_per_address": 100, "requests_per_minute_per_user": 2}
    async with limited_app(database, limits) as app, http(app) as client:
        for _ in range(3):
            forged_answer = await client.post(
                "/graphql",
                json={"query": "{ agents { __typename } }"},
                headers={"authorization": f"Bearer {forged}"},
            )
            assert forged_answer.status_code == 200
            assert forged_answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        for _ in range(2):
            assert (await ask(client, ana.token)).status_code == 200
        refused = await ask(client, ana.token)
        assert_limited(refused, "requestsPerMinute")
        assert "this user" in refused.json()["errors"][0]["message"]
        assert (await ask(client, bo.token)).status_code == 200
        assert (await ask(client)).status_code == 200


async def test_websocket_connections_are_limited_per_address(
    database: DbUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    limits = {"websocket_connects_per_minute_per_address": 2}
    caplog.set_level(logging.INFO, logger="ezhr_graphql.requests")
    async with limited_app(database, limits) as app, serving(app) as url:
        for _ in range(2):
            async with connect(url, None):
                pass
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(url, None):
                pass
        response = refused.value.response
        assert response.status_code == 429
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert b'"code":"RATE_LIMITED"' in response.body
    # The request log tells the refused upgrade by its status
    statuses = [getattr(r, "status", None) for r in caplog.records if r.getMessage() == "request"]
    assert statuses.count(101) == 2
    assert 429 in statuses


async def test_a_server_without_denial_responses_closes_with_4429(
    database: DbUnderTest,
) -> None:
    sent: list[Message] = []
    reached: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["path"])

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/graphql",
        "client": ("198.51.100.9", 1),
        "headers": [],
        "subprotocols": ["graphql-transport-ws"],
    }
    async with limited_app(database, {"websocket_connects_per_minute_per_address": 1}) as app:
        middleware = RateLimit(inner, app.state.container)
        await middleware(scope, receive, send)
        await middleware(scope, receive, send)
    assert reached == ["/graphql"]
    assert sent == [
        {"type": "websocket.accept", "subprotocol": "graphql-transport-ws"},
        {"type": "websocket.close", "code": 4429, "reason": "Too many connections"},
    ]


async def test_starting_replies_is_limited_per_user_and_stores_nothing(
    database: DbUnderTest, people: PeopleFactory, container: Container
) -> None:
    admin, member, other = await people.admin(), await people.member(), await people.member()
    agent = await make_agent(container, admin, llm="scripted?tokens=3")
    first, second, third = await make_sessions(container, member, agent.id, 3)
    (elsewhere,) = await make_sessions(container, other, agent.id, 1)
    limits = {"runs_per_minute_per_user": 2}
    chat = {"max_concurrent_runs_per_user": 10}
    async with limited_app(database, limits, chat=chat) as app, http(app) as client:

        async def send(token: str, session: uuid.UUID, key: str) -> dict[str, Any]:
            payload = {
                "sessionId": str(session),
                "content": "Annual leave?",
                "clientMessageId": key,
            }
            response = await client.post(
                "/graphql",
                json={"query": SEND, "variables": {"input": payload}},
                headers={"authorization": f"Bearer {token}"},
            )
            result: dict[str, Any] = response.json()["data"]["sendMessage"]
            return result

        sent = await send(member.token, first.id, "a")
        assert sent["__typename"] == "SentMessage"
        assert (await send(member.token, second.id, "b"))["__typename"] == "SentMessage"
        refused = await send(member.token, third.id, "c")
        assert refused["__typename"] == "LimitExceeded"
        assert refused["code"] == "LIMIT_EXCEEDED"
        assert refused["limit"] == "runsPerMinute"
        assert "At most 2 replies can be started per minute" in refused["message"]
        assert await rows_in(container, third.id) == 0
        # A retry of a stored question starts nothing, so it is not refused.
        again = await send(member.token, first.id, "a")
        assert again["assistantMessage"] == sent["assistantMessage"]
        # Another user has an allowance of their own.
        assert (await send(other.token, elsewhere.id, "d"))["__typename"] == "SentMessage"
        # Regenerating starts a run as well.
        reply = sent["assistantMessage"]["id"]
        await finished(container, uuid.UUID(reply))
        regenerated = await client.post(
            "/graphql",
            json={"query": REGENERATE, "variables": {"id": reply}},
            headers={"authorization": f"Bearer {member.token}"},
        )
        assert regenerated.json()["data"]["regenerateMessage"]["limit"] == "runsPerMinute"
        assert await rows_in(container, first.id) == 2


async def rows_in(container: Container, session_id: uuid.UUID) -> int:
    async with container.db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.session_id == session_id)
        )
    return int(count or 0)


async def finished(container: Container, message_id: uuid.UUID) -> None:
    """Wait until a reply's run has ended (its status is no longer STREAMING)."""
    for _ in range(400):
        async with container.db.read() as session:
            status = await session.scalar(
                select(ChatMessage.status).where(ChatMessage.id == message_id)
            )
        if status is not MessageStatus.STREAMING:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the reply is still streaming")


async def test_workers_sharing_redis_share_the_counts(
    database: DbUnderTest, people: PeopleFactory, redis_url: str
) -> None:
    member = await people.member()
    limits = {
        "requests_per_minute_per_address": 3,
        "runs_per_minute_per_user": 1,
        # Apart from every other test run using this Redis.
        "redis_prefix": f"ezhr-test:{uuid.uuid4().hex}:",
    }
    async with (
        limited_app(database, limits, redis_url=redis_url) as one,
        limited_app(database, limits, redis_url=redis_url) as two,
        http(one) as first,
        http(two) as second,
    ):
        assert (await ask(first)).status_code == 200
        assert (await ask(second)).status_code == 200
        assert (await ask(first)).status_code == 200
        assert_limited(await ask(second), "requestsPerMinute")
        assert_limited(await ask(first), "requestsPerMinute")
        assert (await ask(second, member.token)).status_code == 429  # the address is spent
        await one.state.container.rate_limits.run(member.id)
        with pytest.raises(RateLimitedError) as refused:
            await two.state.container.rate_limits.run(member.id)
        assert refused.value.limit == "runsPerMinute"
        assert 1 <= refused.value.retry_after <= 60


async def test_turned_off_nothing_is_limited(
    database: DbUnderTest, people: PeopleFactory, container: Container
) -> None:
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin, llm="scripted?tokens=3")
    sessions = await make_sessions(container, member, agent.id, 2)
    limits = {
        "enabled": False,
        "requests_per_minute_per_address": 1,
        "requests_per_minute_per_user": 1,
        "runs_per_minute_per_user": 1,
    }
    async with limited_app(database, limits) as app, http(app) as client:
        for _ in range(3):
            assert (await ask(client, member.token)).status_code == 200
        for i, session in enumerate(sessions):
            payload = {"sessionId": str(session.id), "content": "Leave?", "clientMessageId": str(i)}
            response = await client.post(
                "/graphql",
                json={"query": SEND, "variables": {"input": payload}},
                headers={"authorization": f"Bearer {member.token}"},
            )
            assert response.json()["data"]["sendMessage"]["__typename"] == "SentMessage"


async def test_a_broken_counter_lets_requests_through(database: DbUnderTest) -> None:
    class Unreachable:
        async def hits(self, keys: Sequence[str], window: int) -> list[Hit]:
            raise ConnectionError("redis is down")

    async with limited_app(database, {"requests_per_minute_per_address": 1}) as app:
        app.state.container.rate_limits.counter = Unreachable()
        async with http(app) as client:
            for _ in range(3):
                assert (await ask(client)).status_code == 200


async def test_forwarded_addresses_count_only_from_trusted_proxies(database: DbUnderTest) -> None:
    limits = {"requests_per_minute_per_address": 1, "trusted_proxies": ["192.0.2.0/24"]}
    async with limited_app(database, limits) as app, http(app, "192.0.2.10") as proxy:

        async def via(hops: str) -> int:
            response = await proxy.post(
                "/graphql", json=TYPENAME, headers={"x-forwarded-for": hops}
            )
            return response.status_code

        assert await via("198.51.100.1") == 200
        assert await via("198.51.100.1") == 429
        # The caller may prepend anything; the hop the proxy saw is what counts.
        assert await via("198.51.100.1, 198.51.100.2") == 200
        assert await via("203.0.113.5, 198.51.100.2, 192.0.2.11") == 429


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy: header ignored
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "198.51.100.1, 10.0.0.7", "198.51.100.1"),
        ("10.1.2.3", "10.0.0.7", "10.0.0.7"),  # only proxies: the farthest one
        ("10.1.2.3", "not-an-address", "10.1.2.3"),
        ("10.1.2.3", None, "10.1.2.3"),
        # IPv6 counts per /64 (one subscriber's network), IPv4-mapped IPv6 as IPv4.
        ("2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", None, "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", None, "203.0.113.9"),
        ("10.1.2.3", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("10.1.2.3", "::ffff:198.51.100.1", "198.51.100.1"),
        ("::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1"),  # a mapped proxy is trusted
    ],
)
def test_client_address(peer: str, forwarded: str | None, expected: str) -> None:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "client": (peer, 1), "headers": headers}
    assert client_address(scope, [ipaddress.ip_network("10.0.0.0/8")]) == expected
    assert client_address(scope, []) == client_address({"client": (peer, 1)}, [])


def test_verified_tokens_are_remembered_and_forged_ones_are_not() -> None:
    issuer = TokenIssuer(TEST_SECRET, algorithm="HS256", ttl_seconds=3600, issuer="ezhr-graphql")
    bearers = Bearers(issuer, size=2)
    users = [uuid.uuid4() for _ in range(3)]
    tokens = [issuer.issue(user, Role.MEMBER)[0] for user in users]

    def scope(token: str) -> Scope:
        return {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}

    assert [bearers.user_id(scope(t)) for t in tokens] == users
    assert list(bearers._known) == tokens[1:]  # the oldest made room
    forged = tokens[0][:-4] + "abcd"
    assert bearers.user_id(scope(forged)) is None
    assert forged not in bearers._known
    assert bearers.user_id({"type": "http", "headers": [(b"authorization", b"Basic x")]}) is None
    expired, _ = issuer.issue(users[0], Role.MEMBER, now=datetime.now(UTC) - timedelta(days=1))
    assert bearers.user_id(scope(expired)) is None


async def test_a_slow_or_broken_counter_does_not_stop_replies(
    database: DbUnderTest,
    people: PeopleFactory,
    container: Container,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        async def hits(self, keys: Sequence[str], window: int) -> list[Hit]:
            raise ConnectionError("redis is down")

    class Hanging:
        async def hits(self, keys: Sequence[str], window: int) -> list[Hit]:
            await asyncio.sleep(60)  # a pool with no connection to give
            raise AssertionError("not reached")

    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin, llm="scripted?tokens=3")
    sessions = await make_sessions(container, member, agent.id, 2)
    limits = {"runs_per_minute_per_user": 1, "counter_timeout_seconds": 0.2}
    chat = {"max_concurrent_runs_per_user": 10}
    caplog.set_level(logging.WARNING, logger="ezhr_graphql.services.throttle")
    async with limited_app(database, limits, chat=chat) as app, http(app) as client:
        limiter = app.state.container.rate_limits
        counters: list[Any] = [Broken(), Hanging()]
        for i, (session, counter) in enumerate(zip(sessions, counters, strict=True)):
            limiter.counter = counter
            payload = {"sessionId": str(session.id), "content": "Leave?", "clientMessageId": str(i)}
            started = asyncio.get_running_loop().time()
            response = await client.post(
                "/graphql",
                json={"query": SEND, "variables": {"input": payload}},
                headers={"authorization": f"Bearer {member.token}"},
            )
            # Through, unlimited, and without waiting long on the counter.
            assert response.json()["data"]["sendMessage"]["__typename"] == "SentMessage"
            assert asyncio.get_running_loop().time() - started < 5
            reply = response.json()["data"]["sendMessage"]["assistantMessage"]["id"]
            await finished(container, uuid.UUID(reply))
    warnings = [r for r in caplog.records if "rate limits unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once a minute at most


# graphql-ws runs subscriptions only; this one ends at once (no such message).
STREAM = f'subscription {{ messageStream(messageId: "{uuid.UUID(int=1)}") {{ __typename }} }}'


async def subscribe(conn: Connection, op: str) -> dict[str, Any]:
    """Start operation ``op`` and return the first message answering it."""
    kind = "subscribe" if conn.protocol == TRANSPORT_WS else "start"
    query = "{ __typename }" if conn.protocol == TRANSPORT_WS else STREAM
    await conn.ws.send(json.dumps({"id": op, "type": kind, "payload": {"query": query}}))
    while True:
        message = await conn.recv()
        if message.get("id") == op:
            return message


def ran(message: dict[str, Any]) -> bool:
    return "RATE_LIMITED" not in json.dumps(message)


def assert_rate_limited(message: dict[str, Any], limit: str = "requestsPerMinute") -> None:
    assert message["type"] == "error", message
    payload = message["payload"]
    (error,) = payload if isinstance(payload, list) else [payload]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limit"] == limit
    assert 1 <= error["extensions"]["retryAfter"] <= 60


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_operations_count_against_the_request_limits(
    database: DbUnderTest, people: PeopleFactory, protocol: str
) -> None:
    ana, bo = await people.member(), await people.member()
    limits = {"requests_per_minute_per_user": 2, "requests_per_minute_per_address": 5}
    async with limited_app(database, limits) as app, serving(app) as url:
        # A second connection brings no allowance of its own.
        async with (
            connect(url, ana.token, protocol) as one,
            connect(url, ana.token, protocol) as two,
        ):
            assert ran(await subscribe(one, "1"))
            assert ran(await subscribe(two, "1"))
            refused = await subscribe(one, "2")
            assert_rate_limited(refused)
            assert "this user" in str(refused["payload"])
            # Only the operation is refused: the connection stays open.
            if protocol == TRANSPORT_WS:
                await one.ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(one.ws.recv(), 10)) == {"type": "pong"}
            assert one.ws.close_code is None
        # The user's HTTP requests share the count.
        async with http(app, "127.0.0.1") as client:
            assert_limited(await ask(client, ana.token), "requestsPerMinute")
        # The address's limit holds across users: 3 operations and 1 request so far.
        async with connect(url, bo.token, protocol) as other:
            assert ran(await subscribe(other, "1"))
            assert_rate_limited(await subscribe(other, "2"))


async def refused_with(url: str, token: str | None, protocol: str) -> tuple[int | None, str]:
    """Open a websocket that the server closes after connection_init; its code."""
    async with websockets.connect(url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code, ws.close_reason


async def test_open_websockets_are_capped_per_user_and_per_address(
    database: DbUnderTest, people: PeopleFactory
) -> None:
    ana, bo = await people.member(), await people.member()
    limits = {"websockets_per_user": 2, "websockets_per_address": 4}
    async with limited_app(database, limits) as app, serving(app) as url:
        async with connect(url, ana.token), connect(url, ana.token, LEGACY_WS):
            # Ana's third is closed at once: 4429, or 1008 on graphql-ws
            assert await refused_with(url, ana.token, TRANSPORT_WS) == (
                4429,
                "Too many connections for this user",
            )
            assert (await refused_with(url, ana.token, LEGACY_WS))[0] == 1008
            # ...and counts no more once closed; Bo has an allowance of his own.
            async with connect(url, bo.token), connect(url, None):
                # The address has 4 open: the fifth upgrade is refused with 429.
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with connect(url, None):
                        pass
                assert refused.value.response.status_code == 429
                assert b'"limit":"openConnections"' in refused.value.response.body
        # Every connection closed, however it ended, gives its place back.
        await asyncio.sleep(0.2)
        async with connect(url, ana.token), connect(url, ana.token), connect(url, None):
            pass


def test_open_websockets_are_given_back_once() -> None:
    open_ = OpenWebSockets(per_user=1, per_address=2)
    user = uuid.uuid4()
    first = open_.open("192.0.2.1")
    assert first is not None
    assert first.claim_user(user)
    assert first.claim_user(user)  # the same user again (graphql-ws may init twice)
    second = open_.open("192.0.2.1")
    assert second is not None
    assert not second.claim_user(user)
    assert open_.open("192.0.2.1") is None
    first.release()
    first.release()
    assert second.claim_user(user)
    second.release()
    assert not open_.by_address
    assert not open_.by_user


async def test_memory_counts_drop_expired_keys_before_live_ones() -> None:
    counter = MemoryCounter(max_keys=3)
    await counter.hits(["lockout"], 900)
    await counter.hits(["a", "b"], 1)
    await asyncio.sleep(1.05)
    # Full, with two keys expired: new keys take their places, not the live one's.
    for key in ("c", "d"):
        await counter.hit(key, 1)
    assert await counter.count("lockout") == 1
    # Full of live keys, the oldest inserted makes room.
    await counter.hit("e", 900)
    assert await counter.count("lockout") == 0
    assert await counter.count("e") == 1


async def test_sign_ins_and_requests_are_counted_apart(database: DbUnderTest) -> None:
    async with limited_app(database, {}) as app:
        container = app.state.container
        assert container.login_throttle.counter is not container.rate_limits.counter
