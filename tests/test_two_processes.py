"""Two server processes sharing Redis and a database behave as one: send on one,
follow and stop from the other, and the stored result is right."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ezhr_graphql import migrations
from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageStatus
from tests.conftest import ROOT, PeopleFactory, make_settings, process_env
from tests.databases import fresh_database
from tests.factories import make_agent, make_sessions
from tests.test_replies import SEND, STOP, STREAM
from tests.wsclient import connect


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def shared(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[Container]:
    async with fresh_database(tmp_path_factory.mktemp("two")) as database:
        settings = make_settings(database, redis_url=redis_url)
        container = Container.build(settings)
        await migrations.upgrade_engine(container.db.engine)
        yield container
        await container.close()


@pytest.fixture(scope="module")
def servers(shared: Container, redis_url: str) -> Iterator[list[str]]:
    env = process_env(shared.settings, EZHR_REDIS_URL=redis_url)
    ports = [_port(), _port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ezhr_graphql.asgi:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]  # fmt: skip
    try:
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        yield [f"127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


async def test_send_on_one_process_follow_and_stop_from_the_other(
    shared: Container, servers: list[str]
) -> None:
    people = PeopleFactory(shared)
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(shared, admin, llm="scripted?tokens=300&delay_ms=15")
    (session,) = await make_sessions(shared, member, agent.id, 1)
    a, b = servers
    headers = {"authorization": f"Bearer {member.token}"}
    async with httpx.AsyncClient() as http:
        sent = (
            await http.post(
                f"http://{a}/graphql",
                json={
                    "query": SEND,
                    "variables": {
                        "input": {
                            "sessionId": str(session.id),
                            "content": "Across workers?",
                            "clientMessageId": str(uuid.uuid4()),
                        }
                    },
                },
                headers=headers,
            )
        ).json()["data"]["sendMessage"]
        reply_id = sent["assistantMessage"]["id"]

        events = []
        async with connect(f"ws://{b}/graphql", member.token) as connection:
            async for data in connection.subscribe(STREAM, {"id": reply_id, "after": 0}):
                events.append(data["messageStream"])
                if len(events) == 5:
                    stop = await http.post(
                        f"http://{b}/graphql",
                        json={"query": STOP, "variables": {"id": reply_id}},
                        headers=headers,
                    )
                    assert stop.json()["data"]["stopGeneration"]["__typename"] == "ChatMessage"

    assert events[0]["__typename"] == "ReplyStarted"
    assert events[-1]["__typename"] == "ReplyCompleted"
    assert events[-1]["message"]["status"] == "CANCELLED"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    async with shared.db.read() as db:
        stored = await db.get(ChatMessageRow, uuid.UUID(reply_id))
    assert stored is not None
    assert stored.status is MessageStatus.CANCELLED
    assert stored.content == "".join(e["text"] for e in events if e["__typename"] == "ReplyDelta")
    assert 0 < len(stored.content.split()) < 300

    # A finished reply replays from either process.
    for server in servers:
        async with connect(f"ws://{server}/graphql", member.token) as connection:
            replay = [
                d["messageStream"]
                async for d in connection.subscribe(STREAM, {"id": reply_id, "after": 0})
            ]
        # Deltas already stored may arrive merged; the positions and text agree.
        replayed = [e["seq"] for e in replay]
        assert replayed == sorted(set(replayed))
        assert replayed[-1] == seqs[-1]
        assert replay[-1]["message"]["content"] == stored.content
