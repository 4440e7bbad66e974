"""A storm of clients that vanish without a word, at every step of the protocol:
before the websocket handshake ends, before or after connection_init, right after
subscribing, in the middle of a reply. The replies are not disturbed, and the server
keeps nothing of the clients that left: no open subscription, no task."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import websockets
from prometheus_client import REGISTRY

from tests.faults import (
    FAULT_CHAT,
    AppUnderTest,
    app_under_test,
    assert_stored_as_seen,
    assert_well_formed,
    make_chat_on,
    poll,
)
from tests.test_replies import STREAM, collect
from tests.tools import need_redis
from tests.wsclient import LEGACY_WS, TRANSPORT_WS

QUESTION = "Is anyone still there?"
ROUNDS = 2
CLIENTS = 60
WAYS = ("tcp", "upgrade", "init", "subscribe", "midstream", "midstream", "polite", "complete")


@pytest.fixture(scope="module", params=["memory", "redis"])
async def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AppUnderTest]:
    """The app with each broker: in this process, or Redis."""
    redis_url = need_redis() if request.param == "redis" else None
    async with app_under_test(
        tmp_path_factory.mktemp("storm"), chat=FAULT_CHAT, redis_url=redis_url
    ) as running:
        yield running


def open_subscriptions() -> float:
    value = REGISTRY.get_sample_value("ezhr_subscriptions_open", {"field": "messageStream"})
    return value or 0.0


async def vanish(url: str, token: str, reply_id: str, way: str, protocol: str, seed: int) -> None:
    """One client that leaves abruptly (its TCP connection aborted, no close frame),
    at the step ``way`` names; ``polite`` closes the websocket properly instead."""
    rng = random.Random(seed)  # noqa: S311 - not for secrets
    if way == "tcp":  # half an HTTP upgrade request, then gone
        parts = urlsplit(url)
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgr".encode())
        await writer.drain()
        writer.transport.abort()
        return
    ws = await websockets.connect(url, subprotocols=[protocol])  # type: ignore[list-item]
    try:
        if way == "upgrade":
            return
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        if way == "init":
            return
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        start = "subscribe" if protocol == TRANSPORT_WS else "start"
        payload = {"query": STREAM, "variables": {"id": reply_id, "after": rng.randint(0, 5)}}
        await ws.send(json.dumps({"id": "1", "type": start, "payload": payload}))
        if way == "subscribe":
            return
        for _ in range(rng.randint(1, 8)):
            await asyncio.wait_for(ws.recv(), 10)
        if way == "complete":
            stop = "complete" if protocol == TRANSPORT_WS else "stop"
            await ws.send(json.dumps({"id": "1", "type": stop}))
        elif way == "polite":
            await ws.close()
    finally:
        ws.transport.abort()


async def test_clients_vanishing_at_every_step_leave_the_replies_whole_and_nothing_behind(
    app: AppUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    chats = [await make_chat_on(app, "scripted?tokens=150&delay_ms=10") for _ in range(4)]
    # Connections and subscriptions made once already (lazily created parts exist)
    warm_chat = chats.pop()
    warm = await warm_chat.send("Warming up")
    await collect(app.url, warm_chat.person.token, warm["assistantMessage"]["id"])
    subscriptions, tasks = open_subscriptions(), asyncio.all_tasks()
    replies = [(chat, (await chat.send(QUESTION))["assistantMessage"]["id"]) for chat in chats]
    # Given clients that follow the replies vanish at every step, many at a time
    rng = random.Random(20240607)  # noqa: S311 - a storm repeatable by its seed
    busiest = subscriptions

    async def watch() -> None:
        nonlocal busiest
        while True:
            busiest = max(busiest, open_subscriptions())
            await asyncio.sleep(0.005)

    watching = asyncio.create_task(watch())
    for _ in range(ROUNDS):
        storm = []
        for i in range(CLIENTS):
            chat, reply_id = rng.choice(replies)
            way, protocol = rng.choice(WAYS), rng.choice((TRANSPORT_WS, TRANSPORT_WS, LEGACY_WS))
            storm.append(vanish(app.url, chat.person.token, reply_id, way, protocol, i))
        outcomes = await asyncio.gather(*storm, return_exceptions=True)
        # (a client may find its reply already over: it leaves all the same)
        unexpected = [o for o in outcomes if isinstance(o, Exception) and not _closed(o)]
        assert unexpected == []
    watching.cancel()
    assert busiest > subscriptions, "the storm never reached a subscription"
    # Then every reply is stored whole, as a fresh client sees it
    for chat, reply_id in replies:
        events = await collect(app.url, chat.person.token, reply_id)
        end = assert_well_formed(events)
        assert end["__typename"] == "ReplyCompleted"
        assert len(end["message"]["content"].split()) == 150
        await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)
    # and the server keeps no subscription and no task of the clients that left
    await poll(open_subscriptions, lambda open_now: open_now == subscriptions)
    await poll(lambda: _new_tasks(tasks), lambda new: new == [], within=10)
    # and a client leaving is not logged as a server error (the server's own loggers:
    # the collector may log leftovers of earlier tests under asyncio's name)
    ours = ("ezhr_graphql", "strawberry", "uvicorn")
    assert [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(ours)
    ] == []


def _closed(error: BaseException) -> bool:
    """Errors of a client whose server closed first (the reply had ended)."""
    return isinstance(error, (websockets.ConnectionClosed, TimeoutError, AssertionError))


async def _new_tasks(before: set[asyncio.Task[Any]]) -> list[str]:
    """What the tasks running now and not ``before`` run (this test's aside)."""
    new = asyncio.all_tasks() - before - {asyncio.current_task()}
    return sorted(task.get_coro().__qualname__ for task in new)  # type: ignore[union-attr]
