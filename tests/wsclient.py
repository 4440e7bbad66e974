"""A small graphql-transport-ws (and legacy graphql-ws) client for tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


class Connection:
    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._ids = itertools.count(1)

    async def recv(self, wait: float = 10) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] in ("ka", "ping", "pong"):
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, wait: float = 10
    ) -> AsyncIterator[dict[str, Any]]:
        """The ``data`` of each result until the operation completes; raises on errors."""
        op = str(next(self._ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op, "type": kind, "payload": payload}))
        while True:
            message = await self.recv(wait)
            if message.get("id") != op:
                continue
            if message["type"] in ("next", "data"):
                if message["payload"].get("errors"):
                    raise AssertionError(message["payload"]["errors"])
                yield message["payload"]["data"]
            elif message["type"] == "complete":
                return
            else:
                raise AssertionError(message)


@asynccontextmanager
async def connect(
    url: str, token: str | None, protocol: str = TRANSPORT_WS
) -> AsyncIterator[Connection]:
    async with websockets.connect(url, subprotocols=[protocol]) as ws:
        payload = {"token": token} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        connection = Connection(ws, protocol)
        ack = await connection.recv()
        assert ack["type"] == "connection_ack", ack
        yield connection
