"""GraphQL over websockets (graphql-transport-ws and the legacy graphql-ws)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema import Schema

from ezhr_graphql.api.auth import BadCredentials, authenticate, token_from_params
from ezhr_graphql.api.context import Context
from ezhr_graphql.api.loaders import Loaders
from ezhr_graphql.container import Container


class GraphQLWebSocketView(GraphQL[Context, None]):
    """Authenticates from the ``connection_init`` payload; a bad token is refused
    with the protocol's close code (4403)."""

    def __init__(self, schema: Schema, container: Container) -> None:
        super().__init__(schema, graphql_ide=None, keep_alive=True, keep_alive_interval=15)
        self.container = container

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
            context.actor = await authenticate(
                self.container, token_from_params(context.connection_params)
            )
        except BadCredentials as exc:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": str(exc)}
            ) from exc
        return None
