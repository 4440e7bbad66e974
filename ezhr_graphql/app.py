"""The Starlette application: routes, middleware and lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry import Schema

from ezhr_graphql.api.graphql.observe import OperationLabels, operation_names
from ezhr_graphql.api.graphql.schema import build_schema
from ezhr_graphql.api.guards.gate import Gate
from ezhr_graphql.api.guards.limits import document_parser
from ezhr_graphql.api.guards.persisted import PersistedQueries, persisted_queries
from ezhr_graphql.api.guards.ratelimit import RateLimit
from ezhr_graphql.api.transport.graphiql import graphiql_assets
from ezhr_graphql.api.transport.http import GraphQLHTTPEndpoint
from ezhr_graphql.api.transport.metrics import metrics_route
from ezhr_graphql.api.transport.observe import RequestContext
from ezhr_graphql.api.transport.oidc import SignInRoutes
from ezhr_graphql.api.transport.view import GraphQLWebSocketView
from ezhr_graphql.container import Container
from ezhr_graphql.observe import logs
from ezhr_graphql.settings import Settings

logger = logging.getLogger(__name__)


def cors(settings: Settings) -> list[Middleware]:
    """Browsers may call the API from the configured origins only (none by default)."""
    origins = settings.server.cors_origins
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"],
            max_age=600,
        )
    ]


def _schema(settings: Settings, persisted: PersistedQueries) -> Schema:
    """The schema; its metrics name the operations of the allow-list, and a bounded
    few that signed-in callers use (see OperationLabels)."""
    names = operation_names(persisted.manifest.values())
    graphql = settings.graphql
    labels = OperationLabels(
        graphql.metrics_operation_names, names, graphql.metrics_operation_names_per_user
    )
    return build_schema(
        settings.graphql, introspection=settings.introspection_enabled, labels=labels
    )


def create_app(settings: Settings, container: Container | None = None) -> Starlette:
    """Build the ASGI app. The container (engine, services) is created here and
    disposed when the app shuts down."""
    logs.install_context()
    container = container or Container.build(settings)
    # One store for both transports: a document registered over HTTP is served to a
    # websocket from the same cache (and the allow-list is read once).
    persisted = persisted_queries(settings.graphql, container.broker)
    gate = Gate(container, persisted, document_parser(settings.graphql))
    schema = _schema(settings, persisted)
    http = GraphQLHTTPEndpoint(schema, container, gate, graphiql=settings.graphiql_enabled)
    ws = GraphQLWebSocketView(schema, container, gate, settings.chat.keepalive_seconds)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        report = await container.readiness()
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Objects built at start-up live for the whole process: keep them out of the
        # collector's way so full collections do not pause requests.
        await container.start()
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects; collecting the
        # youngest generation every 700 allocations costs more than it frees, while
        # a much larger one makes each collection a visible pause.
        gc.set_threshold(10_000, 10, 10)
        try:
            yield
        finally:
            await container.close()

    app = Starlette(
        routes=[
            Route("/graphql", http.handle, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", ws),
            *([graphiql_assets()] if settings.graphiql_enabled else []),
            *SignInRoutes(container).routes(),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            metrics_route(settings, container),
        ],
        lifespan=lifespan,
        # Rate limits inside CORS: a 429 still carries the CORS headers a browser
        # needs to read it, and preflights are answered before they count.
        middleware=[
            Middleware(RequestContext),
            *cors(settings),
            *([Middleware(RateLimit, container=container)] if settings.rate_limit.enabled else []),
        ],
    )
    app.state.container = container
    app.state.schema = schema
    return app
