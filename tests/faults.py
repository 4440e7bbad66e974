"""Fault injection for tests: an app of its own with short timeouts, a database that
fails like an unreachable server (at the driver boundary), a private Redis server
that can be killed and restarted, and checks of what a user saw and what is stored."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
from sqlalchemy import event, select

from ezhr_graphql import migrations
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageRole, MessageStatus, Role
from ezhr_graphql.services.catalog import LlmModelService
from ezhr_graphql.settings import Settings
from tests.conftest import ROOT, GraphQLClient, PeopleFactory, make_settings, serving
from tests.databases import fresh_database
from tests.factories import actor, make_agent, make_sessions
from tests.test_replies import STREAM, Chat, text_of
from tests.tools import need_program
from tests.wsclient import connect

T = TypeVar("T")

# Short enough for a test to see a timeout and a sweep, long enough for a slow CI box.
FAULT_CHAT = {"heartbeat_seconds": 0.2, "stale_after_seconds": 3.0, "llm_timeout_seconds": 1.0}
# The fake provider (tests.test_providers) behaves as its API key says.
PROVIDER_KEYS = {key: key for key in ("ok", "429", "slow", "drop")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def poll(
    probe: Callable[[], Any], done: Callable[[T], bool], within: float = 15, every: float = 0.05
) -> T:
    """``probe()`` (awaited if need be) until ``done`` says yes; fails the test after
    ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value: T = probe()
        if inspect.isawaitable(value):
            value = await value
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still not done after {within}s: {value!r}"
        await asyncio.sleep(every)


@dataclass
class AppUnderTest:
    container: Container
    url: str
    gql: GraphQLClient
    people: PeopleFactory


@contextlib.asynccontextmanager
async def app_under_test(tmp: Path, **overrides: Any) -> AsyncIterator[AppUnderTest]:
    """A started app on a fresh database, served on loopback."""
    async with fresh_database(tmp) as database, serve(make_settings(database, **overrides)) as app:
        yield app


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[AppUnderTest]:
    """The app for ``settings``, started (its database migrated) and served on loopback."""
    container = Container.build(settings)
    await migrations.upgrade_engine(container.db.engine)
    await container.start()
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            serving(app) as url,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        ):
            yield AppUnderTest(container, url, GraphQLClient(http), PeopleFactory(container))
    finally:
        await container.close()


async def make_chat_on(
    app: AppUnderTest,
    script: str = "scripted?tokens=12",
    *,
    provider: str = "scripted",
    base_url: str | None = None,
    key: str | None = None,
) -> Chat:
    """A member with a session on an agent of its own: a scripted model, or a remote
    one at ``base_url`` called with the API key ``key``."""
    admin = await app.people.admin()
    member = await app.people.member()
    agent = await make_agent(app.container, admin, llm=script, provider=provider)
    if base_url is not None:
        async with app.container.db.transaction() as session:
            await LlmModelService(session).update(
                actor(admin, Role.ADMIN),
                agent.llm_model_id,
                {"base_url": base_url, "secret_ref": key},
            )
    (session,) = await make_sessions(app.container, member, agent.id, 1, titled=False)
    return Chat(app.gql, member, session.id)


class DatabaseOutage:
    """While down, every statement (that ``refuse`` picks) fails as a lost server
    connection does: with the driver's own OperationalError, raised where the driver
    would run the statement. The pool, SQLAlchemy and everything above see a real
    database failure."""

    def __init__(self, container: Container) -> None:
        self.engines = [engine.sync_engine for engine in container.db.engines]
        self.refused: list[str] = []
        self._refuse: Callable[[str], bool] | None = None

    def _before(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self._refuse is not None and self._refuse(statement):
            self.refused.append(statement)
            raise conn.dialect.loaded_dbapi.OperationalError(
                "server closed the connection unexpectedly"
            )

    def down(self, refuse: Callable[[str], bool] = lambda _: True) -> None:
        self._refuse = refuse

    def up(self) -> None:
        self._refuse = None

    def __enter__(self) -> DatabaseOutage:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *_: object) -> None:
        self.up()
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._before)


class PrivateRedis:
    """A redis-server of this test's own on a free port, keeping nothing on disk, that
    can be killed and started again on the same port."""

    def __init__(self) -> None:
        self.executable = need_program(
            "redis-server", "install Redis (apt-get install redis-server; brew install redis)"
        )
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def start_servers(env: dict[str, str], count: int) -> list[tuple[int, subprocess.Popen[bytes]]]:
    """``count`` uvicorn processes serving the app, each on a port of its own, once
    they are all ready (started together: each takes seconds to import the app)."""
    started: list[tuple[int, subprocess.Popen[bytes]]] = []
    for port in [free_port() for _ in range(count)]:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ezhr_graphql.asgi:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        started.append((port, process))
    deadline = time.monotonic() + 60
    try:
        for port, process in started:
            while True:
                assert process.poll() is None, "a server exited"
                try:
                    url = f"http://127.0.0.1:{port}/readyz"
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "a server did not start"
                time.sleep(0.1)
    except BaseException:
        stop_servers(started)
        raise
    return started


def stop_servers(servers: list[tuple[int, subprocess.Popen[bytes]]]) -> None:
    for _, process in servers:
        if process.poll() is None:
            process.terminate()
    for _, process in servers:
        process.wait(10)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Follower:
    """A client following a reply over its own websocket, in the background."""

    def __init__(self, url: str, token: str, reply_id: str, after: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._task = asyncio.create_task(self._follow(url, token, reply_id, after))

    async def _follow(self, url: str, token: str, reply_id: str, after: int) -> None:
        async with connect(url, token) as connection:
            async for data in connection.subscribe(STREAM, {"id": reply_id, "after": after}):
                async with self._arrived:
                    self.events.append(data["messageStream"])
                    self._arrived.notify_all()

    @property
    def streaming(self) -> bool:
        """Whether the reply is still going on (as far as this follower knows)."""
        return not any(e["__typename"] in ("ReplyCompleted", "ReplyFailed") for e in self.events)

    async def seen(self, count: int, within: float = 10) -> None:
        """Wait until ``count`` events have arrived."""

        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.events) >= count)

        waiting = asyncio.ensure_future(enough())
        done, _ = await asyncio.wait(
            {waiting, self._task}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        if waiting not in done:
            waiting.cancel()
            if self._task.done():
                self._task.result()  # the follower failed: say why
            raise AssertionError(f"{len(self.events)} events, not {count}: {self.events}")

    async def finished(self, within: float = 15) -> list[dict[str, Any]]:
        """Every event, once the stream has ended."""
        await asyncio.wait_for(asyncio.shield(self._task), within)
        return self.events


# --- what a user saw, and what is stored --------------------------------------


def assert_well_formed(events: list[dict[str, Any]], after: int = 0) -> dict[str, Any]:
    """Events strictly after ``after``, each once, in order, with exactly one end (the
    last); returns that end."""
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), f"repeated or out of order: {seqs}"
    assert not seqs or seqs[0] > after, seqs
    ends = [e for e in events if e["__typename"] in ("ReplyCompleted", "ReplyFailed")]
    assert len(ends) == 1, [e["__typename"] for e in events]
    assert events[-1] is ends[0]
    return ends[0]


async def stored_messages(container: Container, session_id: uuid.UUID) -> list[ChatMessageRow]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(ChatMessageRow)
            .where(ChatMessageRow.session_id == session_id)
            .order_by(ChatMessageRow.created_at)
        )
        return list(rows.all())


async def settled_reply(
    container: Container, session_id: uuid.UUID, reply_id: str, within: float = 15
) -> ChatMessageRow:
    """The stored reply once it is no longer STREAMING (fails after ``within`` s)."""

    async def reply() -> ChatMessageRow | None:
        found = [m for m in await stored_messages(container, session_id) if str(m.id) == reply_id]
        return found[0] if found else None

    row: ChatMessageRow | None = await poll(
        reply, lambda m: m is not None and m.status is not MessageStatus.STREAMING, within
    )
    assert row is not None
    return row


async def assert_stored_as_seen(
    container: Container,
    chat: Chat,
    question: str,
    reply_id: str,
    seen: list[dict[str, Any]],
) -> ChatMessageRow:
    """The question is stored, the reply has ended as the stream said, with the text
    the stream carried, and nothing in the session is left STREAMING."""
    reply = await settled_reply(container, chat.session_id, reply_id)
    end = seen[-1]
    if end["__typename"] == "ReplyCompleted":
        assert reply.status is MessageStatus.COMPLETED
        assert end["message"]["status"] == "COMPLETED"
        assert end["message"]["content"] == reply.content
    else:
        assert reply.status is MessageStatus.FAILED
        assert reply.error_code == end["code"]
    assert reply.content == text_of(seen), (reply.content, seen)
    messages = await stored_messages(container, chat.session_id)
    questions = [m for m in messages if m.role is MessageRole.USER]
    assert [m.content for m in questions] == [question]
    assert reply.parent_id == questions[0].id
    assert [m.status for m in messages if m.status is MessageStatus.STREAMING] == []
    return reply
