"""Limits on what a websocket client sends: the size of each message and how many per
second, checked before a message is decoded.

The server (uvicorn's ``ws_max_size``, 16 MiB by default) has already read a message
when the app sees it, so these limits keep large or frequent messages from being
decoded and acted on, whatever the server; ``ezhr-graphql serve`` also lowers
uvicorn's limit so that memory is bounded too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from json import JSONDecodeError
from typing import Any, Literal

from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.http.exceptions import WebSocketDisconnected as ClientLeft

from ezhr_graphql.settings import GraphQLSettings


class MessageRefused(Exception):
    """A client's message is over a limit; the handler closes the connection with its
    protocol's code for ``kind``."""

    def __init__(self, kind: Literal["size", "rate"], reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class MessageGuard:
    """The limits of one connection: a size per message, and a token bucket that holds
    ``burst`` messages and refills at ``rate`` per second."""

    def __init__(self, max_bytes: int, rate: float, burst: int) -> None:
        self.max_bytes = max_bytes
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.checked_at = time.monotonic()

    def admit(self, text: str) -> None:
        """Raises:
        MessageRefused: the message is too large, or comes too soon after the others.
        """
        # A character is 1 to 4 bytes in UTF-8: encode only when that matters.
        if len(text) * 4 > self.max_bytes and len(text.encode("utf-8")) > self.max_bytes:
            raise MessageRefused("size", f"Message over {self.max_bytes} bytes")
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.checked_at) * self.rate)
        self.checked_at = now
        if self.tokens < 1:
            raise MessageRefused("rate", "Too many messages")
        self.tokens -= 1


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's websocket adapter, passing each message through the connection's
    :class:`MessageGuard` before decoding it."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        settings: GraphQLSettings = view.limits
        self.guard = MessageGuard(
            settings.max_ws_message_bytes,
            settings.ws_messages_per_second,
            settings.ws_message_burst,
        )

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        """As Strawberry's, with :meth:`MessageGuard.admit` before decoding.

        Raises:
            MessageRefused: a message is over a limit.
        """
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await self.ws.receive_text()
                    self.guard.admit(text)
                    yield self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:  # a binary frame has no "text"
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Any) -> None:
        """As Strawberry's; a websocket already closed (the client left, or the server
        closed it meanwhile) is reported as the client having left, like a lost
        connection, and not as a server error.

        Raises:
            strawberry.http.exceptions.WebSocketDisconnected: the connection is gone.
        """
        try:
            await super().send_json(message)
        except WebSocketDisconnected as exc:
            raise ClientLeft from exc
