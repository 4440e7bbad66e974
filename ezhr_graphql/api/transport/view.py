"""GraphQL over websockets (graphql-transport-ws and the legacy graphql-ws).

A message over ``max_ws_message_bytes`` or beyond the rate limit closes the
connection: graphql-transport-ws with 4400 (the protocol's "invalid message") or 4429
("too many requests", a code in the private range the protocol already uses for too
many ``connection_init``); the legacy graphql-ws, which defines no codes of its own,
with RFC 6455's 1009 ("message too big") or 1008 ("policy violation").
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInit,
)
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from ezhr_graphql.api.graphql.context import Context
from ezhr_graphql.api.graphql.loaders import Loaders
from ezhr_graphql.api.guards.auth import BadCredentials, authenticate, token_from_params
from ezhr_graphql.api.guards.gate import Gate, Operation, Refused
from ezhr_graphql.api.guards.ratelimit import claim_websocket
from ezhr_graphql.api.guards.websocket import LimitedWebSocketAdapter, MessageRefused
from ezhr_graphql.api.transport.connections import CLOSE_CODE, SignedInConnections
from ezhr_graphql.api.transport.timers import Timer
from ezhr_graphql.container import Container

TRANSPORT_WS_CLOSE = {"size": 4400, "rate": 4429}
LEGACY_WS_CLOSE = {"size": 1009, "rate": 1008}


async def _close(websocket: Any, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError):  # the client has gone already
        await websocket.close(code=code, reason=reason)


def _release(context: object) -> None:
    """Stop what watches a closed connection: its token's expiry, its user's changes."""
    if not isinstance(context, Context):
        return
    for watcher in (context.expiry, context.watch):
        if watcher is not None:
            watcher.cancel()


async def _refusal(view: object, payload: object, context: Context) -> dict[str, Any] | None:
    """Take a subscribe payload through the gate (as HTTP requests go), putting the
    document to run in its ``query`` (and ``None`` for an empty ``operationName``);
    the GraphQL error to answer the operation with when it is refused, else ``None``."""
    if not isinstance(payload, dict) or not isinstance(view, GraphQLWebSocketView):
        return None  # Strawberry refuses a malformed message itself
    operation = Operation(
        query=payload.get("query"),
        extensions=payload.get("extensions"),
        operation_name=payload.get("operationName"),
        actor=context.actor,
        scope=getattr(context.request, "scope", None),
    )
    try:
        payload["query"] = await view.gate.admit(operation)
    except Refused as refused:
        return refused.formatted
    # The gate took "" for no name; so does the executor.
    payload["operationName"] = payload.get("operationName") or None
    return None


class KeepAliveTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a server ping on quiet connections, so proxies and
    clients can tell a silent stream from a dead one."""

    interval: float = 15.0

    async def handle(self) -> None:
        pings = Timer(self.interval, self._ping, every=self.interval)
        try:
            await super().handle()
        except MessageRefused as refused:
            await _close(self.websocket, TRANSPORT_WS_CLOSE[refused.kind], refused.reason)
        finally:
            pings.cancel()
            _release(self.context)
            await pings.stop()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # Cancelled by now: an open connection need not keep the finished task.
        if self.connection_init_received:
            self.connection_init_timeout_task = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Before acknowledgement, or for an id in use, Strawberry closes the connection.
        if self.connection_acknowledged and message["id"] not in self.operations:
            refused = await _refusal(self.view, message["payload"], self.context)
            if refused is not None:  # this operation only
                error = {"id": message["id"], "type": "error", "payload": [refused]}
                await self.send_message(error)  # type: ignore[arg-type]
                return
        await super().handle_subscribe(message)

    async def handle_task_exception(self, error: Exception) -> None:
        # A client that left while its operation was sending is no server fault.
        if isinstance(error, WebSocketDisconnected):
            return
        await super().handle_task_exception(error)

    async def _ping(self) -> bool:
        """Whether to ping again."""
        if self.connection_acknowledged:
            try:
                await self.send_message({"type": "ping"})
            except Exception:  # the connection is closing; handle() will notice
                return False
        return True


class LegacyWS(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws with the message limits and persisted queries; its keep-alive
    messages on a timer rather than in a task per connection."""

    keep_alives: Timer | None = None

    async def handle(self) -> None:
        try:
            await super().handle()
        except MessageRefused as refused:
            await _close(self.websocket, LEGACY_WS_CLOSE[refused.kind], refused.reason)
        finally:
            _release(self.context)
            if self.keep_alives is not None:
                await self.keep_alives.stop()

    async def handle_connection_init(self, message: LegacyConnectionInit) -> None:
        keep_alive, self.keep_alive = self.keep_alive, False
        try:
            await super().handle_connection_init(message)
        finally:
            self.keep_alive = keep_alive
        if keep_alive and self.connection_acknowledged and self.keep_alives is None:
            interval = self.keep_alive_interval or 15.0
            self.keep_alives = Timer(0, self._keep_alive, every=interval)

    async def _keep_alive(self) -> bool:
        """Whether to send the next one."""
        try:
            await self.send_message({"type": "ka"})
        except Exception:  # the connection is closing; handle() will notice
            return False
        return True

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: Any
    ) -> None:
        # A client that left is no error. Raised on, the error's traceback would keep
        # the subscription (and what it holds) alive until a full garbage collection.
        with contextlib.suppress(WebSocketDisconnected):
            await super().handle_async_results(operation_id, query, operation_name, variables)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            refused = await _refusal(self.view, message["payload"], self.context)
            if refused is not None:  # this operation only
                error = {"type": "error", "id": message["id"], "payload": refused}
                await self.send_message(error)  # type: ignore[arg-type]
                return
        await super().handle_start(message)


class GraphQLWebSocketView(GraphQL[Context, None]):
    """Authenticates from the ``connection_init`` payload; a bad token is refused
    with the protocol's close code (4403), and so is a connection whose token stops
    working while it is open (expired, or its user deactivated or deleted)."""

    websocket_adapter_class = LimitedWebSocketAdapter
    graphql_ws_handler_class = LegacyWS

    def __init__(
        self,
        schema: Schema,
        container: Container,
        gate: Gate,
        keepalive: float = 15.0,
    ) -> None:
        interval = keepalive
        super().__init__(schema, graphql_ide=None, keep_alive=True, keep_alive_interval=interval)
        self.container = container
        self.limits = container.settings.graphql
        self.gate = gate
        self.graphql_transport_ws_handler_class = type(
            "KeepAlive", (KeepAliveTransportWS,), {"interval": interval}
        )
        self.connections = SignedInConnections()
        container.user_changes.listen(self.connections.user_changed)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            container=self.container,
            loaders=Loaders.build(self.container.db),
            request=request,
            response=response,
            long_lived=True,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        try:
            context.token = token_from_params(context.connection_params)
            context.actor = await authenticate(self.container, context.token)
        except BadCredentials as exc:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": str(exc)}
            ) from exc
        # Over the cap of open websockets per user: closed.
        claim_websocket(getattr(context.request, "scope", None), context.actor)
        if context.token is not None and isinstance(context.request, WebSocket):
            expires = self.container.tokens.verify(context.token).expires_at
            websocket = context.request
            context.expiry = Timer(
                (expires - datetime.now(UTC)).total_seconds(), lambda: _expired(websocket)
            )
            if context.actor is not None:
                context.watch = self.connections.watch(context.actor.id, context, websocket)
        return None


async def _expired(websocket: WebSocket) -> bool:
    """Close the connection, its token expired (graphql-transport-ws 4403): a client
    reconnects with a fresh token rather than streaming on a stale one."""
    with contextlib.suppress(Exception):  # already closed
        await websocket.close(code=CLOSE_CODE, reason="Token expired")
    return False
