"""GraphQL over websockets (graphql-transport-ws and the legacy graphql-ws)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from ezhr_graphql.api.auth import BadCredentials, authenticate, token_from_params
from ezhr_graphql.api.context import Context
from ezhr_graphql.api.loaders import Loaders
from ezhr_graphql.container import Container


class KeepAliveTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a server ping on quiet connections, so proxies and
    clients can tell a silent stream from a dead one."""

    interval: float = 15.0

    async def handle(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            await super().handle()
        finally:
            pinger.cancel()
            expiry = getattr(self.context, "expiry", None)
            if expiry is not None:
                expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.connection_acknowledged:
                try:
                    await self.send_message({"type": "ping"})
                except Exception:  # the connection is closing; handle() will notice
                    return


class GraphQLWebSocketView(GraphQL[Context, None]):
    """Authenticates from the ``connection_init`` payload; a bad token is refused
    with the protocol's close code (4403)."""

    def __init__(self, schema: Schema, container: Container, keepalive: float = 15.0) -> None:
        interval = keepalive
        super().__init__(schema, graphql_ide=None, keep_alive=True, keep_alive_interval=interval)
        self.container = container
        self.graphql_transport_ws_handler_class = type(
            "KeepAlive", (KeepAliveTransportWS,), {"interval": interval}
        )

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
        if context.token is not None and isinstance(context.request, WebSocket):
            expires = self.container.tokens.verify(context.token).expires_at
            context.expiry = asyncio.create_task(_close_at(context.request, expires))
        return None


async def _close_at(websocket: WebSocket, expires: datetime) -> None:
    """Close the connection when its token expires (graphql-transport-ws 4403): a
    client reconnects with a fresh token rather than streaming on a stale one."""
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()))
    with contextlib.suppress(Exception):  # already closed
        await websocket.close(code=4403, reason="Token expired")
