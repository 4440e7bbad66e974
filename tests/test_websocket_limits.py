"""Websocket clients are limited in the size of each message and in how many they send:
over either, the connection closes with the protocol's code."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import websockets
from starlette.types import Message
from starlette.websockets import WebSocket
from strawberry.http.exceptions import WebSocketDisconnected as ClientLeft

from ezhr_graphql.api.guards.websocket import LimitedWebSocketAdapter
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.settings import GraphQLSettings
from tests.conftest import make_settings, serving
from tests.databases import DbUnderTest
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, connect

PING = {"type": "ping"}


def padded(size: int, char: str = "x") -> str:
    """A graphql-transport-ws ping of exactly ``size`` bytes in UTF-8."""
    empty = len(json.dumps({"type": "ping", "payload": {"pad": ""}}, ensure_ascii=False))
    pad = char * ((size - empty) // len(char.encode()))
    message = json.dumps({"type": "ping", "payload": {"pad": pad}}, ensure_ascii=False)
    assert len(message.encode()) == size, "choose a size the padding fills exactly"
    return message


async def closed_with(ws: Any) -> tuple[int | None, str | None]:
    """The close code and reason, once the server closes the connection."""
    await asyncio.wait_for(ws.wait_closed(), 10)
    return ws.close_code, ws.close_reason


@pytest.fixture(scope="module")
async def limited_url(database: DbUnderTest, container: Container) -> AsyncIterator[str]:
    """A server allowing 4 KiB messages, 6 at once and then next to none."""
    graphql = {
        "max_ws_message_bytes": 4096,
        "ws_message_burst": 6,
        "ws_messages_per_second": 0.001,
    }
    app = create_app(make_settings(database, graphql=graphql))
    try:
        async with serving(app) as url:
            yield url
    finally:
        await app.state.container.close()


async def test_a_message_at_the_size_limit_is_answered(live_url: str, container: Container) -> None:
    limit = container.settings.graphql.max_ws_message_bytes
    async with connect(live_url, None, TRANSPORT_WS) as conn:
        await conn.ws.send(padded(limit))
        assert json.loads(await asyncio.wait_for(conn.ws.recv(), 10)) == {"type": "pong"}


async def test_a_message_over_the_size_limit_closes_the_connection_with_4400(
    live_url: str, container: Container
) -> None:
    limit = container.settings.graphql.max_ws_message_bytes
    async with connect(live_url, None, TRANSPORT_WS) as conn:
        await conn.ws.send(padded(limit + 1))
        assert await closed_with(conn.ws) == (4400, f"Message over {limit} bytes")


async def test_the_size_limit_counts_bytes_not_characters(limited_url: str) -> None:
    # given fewer characters than the limit that are more bytes than it (3 bytes each)
    message = padded(4240, "ệ")
    assert len(message) < 4096 < len(message.encode())
    async with connect(limited_url, None, TRANSPORT_WS) as conn:
        await conn.ws.send(message)
        assert await closed_with(conn.ws) == (4400, "Message over 4096 bytes")


async def test_too_many_messages_close_graphql_transport_ws_with_4429(limited_url: str) -> None:
    async with connect(limited_url, None, TRANSPORT_WS) as conn:  # connection_init: 1 of 6
        for _ in range(5):
            await conn.ws.send(json.dumps(PING))
            assert json.loads(await asyncio.wait_for(conn.ws.recv(), 10)) == {"type": "pong"}
        await conn.ws.send(json.dumps(PING))  # the 7th
        assert await closed_with(conn.ws) == (4429, "Too many messages")


async def test_the_legacy_protocol_closes_with_rfc_6455_codes(limited_url: str) -> None:
    async with connect(limited_url, None, LEGACY_WS) as conn:
        await conn.ws.send(json.dumps({"type": "connection_init", "payload": {}}) + " " * 4096)
        assert await closed_with(conn.ws) == (1009, "Message over 4096 bytes")
    async with connect(limited_url, None, LEGACY_WS) as conn:
        for _ in range(6):  # unknown message types are ignored by graphql-ws
            await conn.ws.send(json.dumps({"type": "noop"}))
        assert await closed_with(conn.ws) == (1008, "Too many messages")


async def test_connections_are_limited_one_by_one(limited_url: str) -> None:
    async with (
        websockets.connect(limited_url, subprotocols=[TRANSPORT_WS]) as busy,
        connect(limited_url, None, TRANSPORT_WS) as quiet,
    ):
        await busy.send(json.dumps({"type": "connection_init", "payload": {}}))
        for _ in range(6):
            await busy.send(json.dumps(PING))
        assert (await closed_with(busy))[0] == 4429
        await quiet.ws.send(json.dumps(PING))
        assert json.loads(await asyncio.wait_for(quiet.ws.recv(), 10)) == {"type": "pong"}


async def test_operations_over_the_cost_limit_are_refused_over_websockets(live_url: str) -> None:
    costly = (
        "{ chatSessions(first: 100) { ... on ChatSessionConnection { edges { node {"
        " currentBranch { citations { title } siblings { citations { title } } } } } } } }"
    )
    async with connect(live_url, None, TRANSPORT_WS) as conn:
        message = {"id": "1", "type": "subscribe", "payload": {"query": costly}}
        await conn.ws.send(json.dumps(message))
        reply = await conn.recv()
        assert reply["type"] == "error"
        assert reply["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_sending_on_a_closed_websocket_is_a_client_that_left() -> None:
    """Starlette refuses to send once the websocket is closed; that is the client's
    departure (quietly ended), not a server error logged with a traceback."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/graphql", "headers": [], "subprotocols": []}
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.close()
    view = SimpleNamespace(limits=GraphQLSettings(), encode_json=json.dumps)
    adapter = LimitedWebSocketAdapter(view, websocket, websocket)
    with pytest.raises(ClientLeft):
        await adapter.send_json({"type": "next"})
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
