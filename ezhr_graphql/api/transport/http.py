"""GraphQL over HTTP, as the GraphQL-over-HTTP specification asks.

- ``POST`` with ``application/json``; ``GET`` for queries only (a mutation over GET
  gets 405 with ``Allow: POST``).
- The response media type follows ``Accept``: ``application/graphql-response+json``
  when asked for, ``application/json`` otherwise; 406 when neither is acceptable.
- With ``application/graphql-response+json`` a request error (unparsable document,
  validation or variable coercion failure) is a 400 without a ``data`` entry; with
  ``application/json`` it stays a 200 for legacy clients.
- Malformed bodies and parameters are 400 (415 for an unsupported content type).
- Every error the endpoint raises itself carries ``extensions.code``: ``BAD_REQUEST``,
  ``BATCHING_NOT_SUPPORTED`` for a JSON array of requests, ``OPERATION_NAME_REQUIRED``,
  ``PAYLOAD_TOO_LARGE``... (see ``params.STATUS_CODES``), and the persisted query codes.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema import Schema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from ezhr_graphql.api.graphql.context import Context
from ezhr_graphql.api.graphql.loaders import Loaders
from ezhr_graphql.api.guards.auth import BadCredentials, authenticate, bearer_token
from ezhr_graphql.api.guards.gate import Gate, Operation, Refused
from ezhr_graphql.api.transport.graphiql import graphiql_html, graphiql_response
from ezhr_graphql.api.transport.params import (
    BAD_REQUEST,
    JSON,
    MAX_UPLOAD_FILES,
    MULTIPART,
    STATUS_CODES,
    RequestError,
    close_form,
    read_params,
)
from ezhr_graphql.container import Container
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.services.actor import Actor

GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY_ONLY = frozenset({OperationType.QUERY})
QUERY_OR_MUTATION = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLRequestError(Exception):
    """The request is well-formed HTTP but names no single operation to run: a GraphQL
    request error (400 with graphql-response+json, 200 with application/json)."""

    def __init__(self, message: str, code: str = BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not math.isfinite(quality):
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header, or ``None`` for 406."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for media, quality in _media_ranges(accept):
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (quality, 2, GRAPHQL_RESPONSE)
        elif media in (JSON, "application/*", "*/*"):
            candidate = (quality, 1, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return None if best is None else best[2]


def _is_request_error(result: ExecutionResult) -> bool:
    # Errors before execution (parse, validation, variable coercion) carry no path;
    # a field error always does, even when it nulls the whole `data`.
    return (
        result.data is None and bool(result.errors) and all(not e.path for e in result.errors or ())
    )


def _dump(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def _error_body(message: str, code: str) -> bytes:
    return _dump({"errors": [{"message": message, "extensions": {"code": code}}]})


class GraphQLHTTPEndpoint:
    """The Starlette endpoint for ``/graphql`` over HTTP."""

    def __init__(
        self,
        schema: Schema,
        container: Container,
        gate: Gate,
        *,
        graphiql: bool,
    ) -> None:
        self.schema = schema
        self.container = container
        self.graphiql = graphiql
        settings = container.settings.graphql
        self.max_body = settings.max_body_bytes
        self.gate = gate
        self._graphiql_html = graphiql_html() if graphiql else ""

    def _wants_graphiql(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def _actor(self, request: Request) -> Actor | None:
        """Who is asking, from the ``Authorization`` header; ``None`` without a token.

        Raises:
            BadCredentials: the token is refused.
            RequestError: 503, the database cannot be reached to check the token.
        """
        try:
            token = bearer_token(request.headers.get("authorization"))
            return await authenticate(self.container, token)
        except BadCredentials:
            raise
        except Exception as exc:
            if not unavailable(exc):
                raise
            # Who is asking cannot be checked now: a typed 503, not a bare 500.
            raise RequestError(
                503, UNAVAILABLE_MESSAGE, {"Retry-After": "1"}, SERVICE_UNAVAILABLE
            ) from exc

    async def context(self, request: Request) -> Context:
        actor, error = None, None
        try:
            actor = await self._actor(request)
        except BadCredentials as exc:
            error = str(exc)
        return Context(
            container=self.container,
            loaders=Loaders.build(self.container.db, actor),
            actor=actor,
            credentials_error=error,
            request=request,
        )

    async def handle(self, request: Request) -> Response:
        if self._wants_graphiql(request):
            if self.graphiql:
                return graphiql_response(self._graphiql_html)
            return Response(status_code=404)
        media = negotiate(request.headers.get("accept"))
        if media is None:
            return Response(
                _error_body(f"Accept must allow {GRAPHQL_RESPONSE} or {JSON}", STATUS_CODES[406]),
                status_code=406,
                headers={"content-type": f"{JSON}; charset=utf-8"},
            )
        content_type = f"{media}; charset=utf-8"
        refusal = await self._refuse_upload(request, content_type)
        if refusal is not None:
            return refusal
        try:
            params = await read_params(request, self.max_body)
            # Who is asking first: only the signed-in register persisted queries.
            context = await self.context(request)
            params["query"] = await self._document(request, params, context)
            result = await self._execute(request, params, context)
        except RequestError as exc:
            await close_form(request)
            headers = {**exc.headers, "content-type": content_type}
            body = _error_body(exc.message, exc.code)
            return Response(body, status_code=exc.status, headers=headers)
        except GraphQLRequestError as exc:
            await close_form(request)
            return Response(
                _error_body(exc.message, exc.code),
                status_code=400 if media == GRAPHQL_RESPONSE else 200,
                headers={"content-type": content_type},
            )
        await close_form(request)
        status = 200
        payload: dict[str, Any] = {}
        if _is_request_error(result):
            if media == GRAPHQL_RESPONSE:
                status = 400
        else:
            payload["data"] = result.data
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        return Response(_dump(payload), status_code=status, headers={"content-type": content_type})

    async def _document(self, request: Request, params: dict[str, Any], context: Context) -> str:
        """The document to run, through the gate (the middleware counted the request).

        Raises:
            GraphQLRequestError: the gate refused it (its code says why).
        """
        operation = Operation(
            query=params.get("query"),
            extensions=params.get("extensions"),
            operation_name=params.get("operationName"),
            actor=context.actor,
            scope=request.scope,
        )
        try:
            return await self.gate.admit(operation, counted=True)
        except Refused as exc:
            raise GraphQLRequestError(exc.message, exc.code) from exc

    async def _refuse_upload(self, request: Request, content_type: str) -> Response | None:
        """Multipart requests carry files, and only administrators upload: check who
        is asking and how much they send before reading a byte of the body."""
        if request.method != "POST":
            return None
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != MULTIPART:
            return None
        headers = {"content-type": content_type}
        limit = self.container.settings.knowledge.max_upload_bytes * MAX_UPLOAD_FILES + 2**20
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            body = _error_body("A multipart request needs a Content-Length", STATUS_CODES[411])
            return Response(body, 411, headers)
        if int(length) > limit:
            body = _error_body("The request body is too large", STATUS_CODES[413])
            return Response(body, 413, headers)
        try:
            actor = await self._actor(request)
        except BadCredentials:
            actor = None
        except RequestError as exc:
            body = _error_body(exc.message, exc.code)
            return Response(body, exc.status, {**exc.headers, **headers})
        if actor is None or not actor.is_admin:
            code = "UNAUTHENTICATED" if actor is None else "FORBIDDEN"
            body = _error_body("Only administrators upload files", code)
            return Response(body, 401 if actor is None else 403, headers)
        return None

    async def _execute(
        self, request: Request, params: dict[str, Any], context: Context
    ) -> ExecutionResult:
        allowed = QUERY_ONLY if request.method == "GET" else QUERY_OR_MUTATION
        try:
            return await self.schema.execute(
                params["query"],
                variable_values=params.get("variables"),
                context_value=context,
                operation_name=params.get("operationName"),
                allowed_operation_types=allowed,
                operation_extensions=params.get("extensions"),
            )
        except InvalidOperationTypeError as exc:
            if request.method == "GET":
                raise RequestError(
                    405, "Only queries may be sent with GET; use POST", {"Allow": "POST"}
                ) from exc
            raise RequestError(400, "Subscriptions are served over websockets") from exc
        except CannotGetOperationTypeError as exc:
            raise GraphQLRequestError(exc.as_http_error_reason(), BAD_REQUEST) from exc
        except MissingQueryError as exc:
            raise RequestError(400, "No GraphQL query found in the request") from exc
