from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import delete, event, update
from starlette.applications import Starlette

from ezhr_graphql import migrations
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.db import Base
from ezhr_graphql.models import ChatSession, Role
from ezhr_graphql.services.throttle import MemoryCounter
from ezhr_graphql.settings import Environment, Settings
from ezhr_graphql.vectors import PgVectorStore, TableVectorStore
from tests.databases import DbUnderTest, fresh_database
from tests.pgvector_server import running_pgvector
from tests.tools import need_redis

TEST_SECRET = "test-signing-key-that-is-long-enough-0123456789"
# Every test calls from one address, and helpers poll at 20 requests a second (for up
# to minutes on a busy machine): request limits would trip at random. The middleware
# still counts every request; tests/test_rate_limits.py sets limits of its own (a
# rate_limit override replaces these). Runs and connections keep their defaults. The
# Redis prefix keeps this session's counts apart from other runs sharing the Redis.
SUITE_RATE_LIMITS: dict[str, Any] = {
    "requests_per_minute_per_user": 1_000_000,
    "requests_per_minute_per_address": 1_000_000,
    "redis_prefix": f"ezhr-test-{uuid.uuid4().hex[:12]}:throttle:",
}


@pytest.fixture(scope="session")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DbUnderTest]:
    async with fresh_database(tmp_path_factory.mktemp("db")) as db:
        yield db


def make_settings(db: DbUnderTest, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database": db.settings,
        "auth": {"secret_key": TEST_SECRET},
        "rate_limit": SUITE_RATE_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (``EZHR_TEST_REDIS_URL``): without one answering, the tests that
    take it skip with one line (and fail in CI)."""
    return need_redis()


@pytest.fixture(scope="session")
def settings(database: DbUnderTest) -> Settings:
    return make_settings(database)


@pytest.fixture(scope="session")
async def container(settings: Settings) -> AsyncIterator[Container]:
    container = Container.build(settings)
    await migrations.upgrade_engine(container.db.engine)
    await container.start()
    yield container
    await container.close()


@pytest.fixture(scope="session")
def app(settings: Settings, container: Container) -> Starlette:
    return create_app(settings, container)


@pytest.fixture(scope="session")
def pgvector_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away PostgreSQL with pgvector (tests/pgvector_server.py), for the session."""
    with running_pgvector(tmp_path_factory.mktemp("pgvector")) as url:
        yield url


@pytest.fixture(params=["database", "pgvector"])
async def store(
    request: pytest.FixtureRequest, container: Container
) -> AsyncIterator[TableVectorStore | PgVectorStore]:
    """Each vector store in turn: the embedded one in the suite's database, and pgvector."""
    if request.param == "database":
        yield TableVectorStore(container.db)
        return
    pg = PgVectorStore(request.getfixturevalue("pgvector_url"), ef_search=40)
    await pg.check()
    try:
        yield pg
    finally:
        await pg.close()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from empty tables (only for tests that use the database)."""
    yield
    if "container" not in request.fixturenames:
        return
    container: Container = request.getfixturevalue("container")
    container.login_throttle.counter = MemoryCounter()  # failed sign-ins are per test
    container.rate_limits.counter = MemoryCounter()  # so are rate limits (one address)
    async with container.db.transaction() as session:
        # Sessions point at their current message and messages at their session.
        await session.execute(update(ChatSession).values(current_message_id=None))
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


class GraphQLClient:
    """Posts GraphQL documents through the ASGI app, optionally as a signed-in user."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self(query, variables, token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


# The password of everyone the people fixture makes.
PASSWORD_FOR_PEOPLE = "correct horse battery"


@dataclass
class Person:
    id: uuid.UUID
    email: str
    token: str


@pytest.fixture
def people(container: Container) -> PeopleFactory:
    return PeopleFactory(container)


class PeopleFactory:
    def __init__(self, container: Container) -> None:
        self.container = container

    async def make(self, role: Role = Role.MEMBER, email: str | None = None) -> Person:
        email = email or f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        async with self.container.db.transaction() as session:
            signed_in = await self.container.services(session).users.register(
                email, PASSWORD_FOR_PEOPLE, None, role
            )
        return Person(signed_in.user.id, signed_in.user.email, signed_in.token)

    async def admin(self) -> Person:
        return await self.make(Role.ADMIN)

    async def member(self) -> Person:
        return await self.make(Role.MEMBER)


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.count += 1
        self.statements.append(statement)


@pytest.fixture
def count_statements(container: Container) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engines = [engine.sync_engine for engine in container.db.engines]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", counter)
    yield counter
    for engine in engines:
        event.remove(engine, "before_cursor_execute", counter)


ROOT = Path(__file__).resolve().parent.parent


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server or worker process sharing ``settings``' database."""
    db = settings.database
    env = {
        **os.environ,
        "EZHR_ENV": "test",
        "EZHR_DATABASE__URL": db.url,
        "EZHR_AUTH__SECRET_KEY": TEST_SECRET,
        "EZHR_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **{f"EZHR_RATE_LIMIT__{k.upper()}": str(v) for k, v in SUITE_RATE_LIMITS.items()},
        **extra,
    }
    if db.schema_name:
        env["EZHR_DATABASE__SCHEMA_NAME"] = db.schema_name
    return env


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields its websocket URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes no start event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def live_url(app: Starlette) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url
