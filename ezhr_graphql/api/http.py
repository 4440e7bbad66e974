"""GraphQL over HTTP, as the GraphQL-over-HTTP specification asks.

- ``POST`` with ``application/json``; ``GET`` for queries only (a mutation over GET
  gets 405 with ``Allow: POST``).
- The response media type follows ``Accept``: ``application/graphql-response+json``
  when asked for, ``application/json`` otherwise; 406 when neither is acceptable.
- With ``application/graphql-response+json`` a request error (unparsable document,
  validation or variable coercion failure) is a 400 without a ``data`` entry; with
  ``application/json`` it stays a 200 for legacy clients.
- Malformed bodies and parameters are 400 (415 for an unsupported content type).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema import Schema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from ezhr_graphql.api.auth import BadCredentials, authenticate, bearer_token
from ezhr_graphql.api.context import Context
from ezhr_graphql.api.graphiql import graphiql_html, graphiql_response
from ezhr_graphql.api.loaders import Loaders
from ezhr_graphql.container import Container

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
QUERY_ONLY = frozenset({OperationType.QUERY})
QUERY_OR_MUTATION = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLRequestError(Exception):
    """The request is well-formed HTTP but names no single operation to run: a GraphQL
    request error (400 with graphql-response+json, 200 with application/json)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


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


def _json_param(raw: str | None, name: str) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The `{name}` parameter is not valid JSON") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read no further than ``limit`` bytes.

    Raises:
        RequestError: 413 when the body (or its declared length) is over the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"The request body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"The request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request, max_body: int = 1024 * 1024) -> dict[str, Any]:
    """The request's ``query``/``operationName``/``variables``/``extensions``.

    Raises:
        RequestError: 400 or 415 for anything that is not a well-formed GraphQL request.
    """
    if request.method == "GET":
        q = request.query_params
        params: Any = {
            "query": q.get("query"),
            "operationName": q.get("operationName"),
            "variables": _json_param(q.get("variables"), "variables"),
            "extensions": _json_param(q.get("extensions"), "extensions"),
        }
    else:
        content_type = request.headers.get("content-type", "")
        media, *options = (part.strip().lower() for part in content_type.split(";"))
        if media == MULTIPART:
            return _checked(await read_multipart(request))
        if media != JSON:
            raise RequestError(415, "POST bodies must be application/json or multipart/form-data")
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
                raise RequestError(415, "POST bodies must be UTF-8 encoded")
        body = await read_body(request, max_body)
        if not body:
            raise RequestError(400, "The request body is empty")
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, "The request body is not valid JSON") from exc
    return _checked(params)


def _checked(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise RequestError(400, "The request body must be a JSON object")
    if params.get("operationName") == "":
        params["operationName"] = None  # the spec's "no name" spelled as a GET parameter
    if not isinstance(params.get("query"), str) or not params["query"]:
        raise RequestError(400, "The `query` parameter must be a non-empty string")
    for name, kind in (("operationName", str), ("variables", dict), ("extensions", dict)):
        given = params.get(name)
        if given is not None and not isinstance(given, kind):
            article = "a string" if kind is str else "an object"
            raise RequestError(400, f"The `{name}` parameter must be {article} or null")
    return params


MULTIPART = "multipart/form-data"
MAX_UPLOAD_FILES = 10


def _set_path(params: dict[str, Any], path: str, value: Any) -> None:
    """Put ``value`` where ``path`` (``variables.input.file``, ``variables.files.0``)
    points in the operations object."""
    *parents, last = path.split(".")
    target: Any = params
    try:
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif isinstance(target, dict) and last in target:
            target[last] = value
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise RequestError(400, f"The `map` names a path that does not exist: {path}") from exc


class _MultiPartParser(MultiPartParser):
    """Starlette's parser, closing the file of a part the body ends in the middle of.

    Starlette (1.10) keeps such a file out of the form without closing it, so it
    lingers until garbage collection (a ResourceWarning)."""

    async def parse(self) -> FormData:
        form = await super().parse()
        kept = {id(v.file) for _, v in form.multi_items() if isinstance(v, UploadFile)}
        for file in getattr(self, "_files_to_close_on_error", ()):
            if id(file) not in kept:
                file.close()
        return form


async def read_multipart(request: Request) -> Any:
    """A GraphQL multipart request (file uploads): ``operations``, ``map``, then the
    files, which replace the ``null`` variables ``map`` names.

    Raises:
        RequestError: 400 for anything that does not follow the multipart request spec.
    """
    try:
        parser = _MultiPartParser(
            request.headers,
            request.stream(),
            max_files=MAX_UPLOAD_FILES,
            max_fields=MAX_UPLOAD_FILES + 2,
        )
        form = await parser.parse()
    except Exception as exc:  # Starlette reports malformed bodies and limits alike
        raise RequestError(400, "The multipart body could not be read") from exc
    # The files stay open while the operation runs; the endpoint closes them after.
    request.state.form = form
    operations = form.get("operations")
    mapping = form.get("map")
    if not isinstance(operations, str) or not isinstance(mapping, str):
        raise RequestError(400, "A multipart request needs `operations` and `map` fields")
    params = _json_param(operations, "operations")
    files = _json_param(mapping, "map")
    if not isinstance(params, dict) or not isinstance(files, dict):
        raise RequestError(400, "`operations` and `map` must be JSON objects")
    for key, paths in files.items():
        upload = form.get(key)
        if upload is None or isinstance(upload, str):
            raise RequestError(400, f"The `map` names a file that was not sent: {key}")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise RequestError(400, "Each `map` entry must be a list of paths")
        for path in paths:
            _set_path(params, path, upload)
    return params


async def _close_form(request: Request) -> None:
    form = getattr(request.state, "form", None)
    if form is not None:
        await form.close()


def _is_request_error(result: ExecutionResult) -> bool:
    # Errors before execution (parse, validation, variable coercion) carry no path;
    # a field error always does, even when it nulls the whole `data`.
    return (
        result.data is None and bool(result.errors) and all(not e.path for e in result.errors or ())
    )


@lru_cache(maxsize=512)
def _operation_names(query: str) -> tuple[str | None, ...] | None:
    """Names of the document's operations, or ``None`` when it does not parse (the
    executor then reports the syntax error itself)."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    return tuple(
        d.name.value if d.name else None
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def check_operation(query: str, operation_name: str | None) -> None:
    """Raises:
    GraphQLRequestError: the document has several operations and no name picks one.
    """
    names = _operation_names(query)
    if names is not None and operation_name is None and len(names) > 1:
        raise GraphQLRequestError(
            "Must provide operation name if query contains multiple operations."
        )


def _dump(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def _error_body(message: str) -> bytes:
    return _dump({"errors": [{"message": message}]})


class GraphQLHTTPEndpoint:
    """The Starlette endpoint for ``/graphql`` over HTTP."""

    def __init__(self, schema: Schema, container: Container, *, graphiql: bool) -> None:
        self.schema = schema
        self.container = container
        self.graphiql = graphiql
        self.max_body = container.settings.graphql.max_body_bytes
        self._graphiql_html = graphiql_html() if graphiql else ""

    def _wants_graphiql(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def context(self, request: Request) -> Context:
        actor, error = None, None
        try:
            token = bearer_token(request.headers.get("authorization"))
            actor = await authenticate(self.container, token)
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
                _error_body(f"Accept must allow {GRAPHQL_RESPONSE} or {JSON}"),
                status_code=406,
                headers={"content-type": f"{JSON}; charset=utf-8"},
            )
        content_type = f"{media}; charset=utf-8"
        refusal = await self._refuse_upload(request, content_type)
        if refusal is not None:
            return refusal
        try:
            params = await read_params(request, self.max_body)
            check_operation(params["query"], params.get("operationName"))
            result = await self._execute(request, params)
        except RequestError as exc:
            await _close_form(request)
            headers = {**exc.headers, "content-type": content_type}
            return Response(_error_body(exc.message), status_code=exc.status, headers=headers)
        except GraphQLRequestError as exc:
            await _close_form(request)
            return Response(
                _error_body(exc.message),
                status_code=400 if media == GRAPHQL_RESPONSE else 200,
                headers={"content-type": content_type},
            )
        await _close_form(request)
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
            return Response(_error_body("A multipart request needs a Content-Length"), 411, headers)
        if int(length) > limit:
            return Response(_error_body("The request body is too large"), 413, headers)
        try:
            actor = await authenticate(
                self.container, bearer_token(request.headers.get("authorization"))
            )
        except BadCredentials:
            actor = None
        if actor is None or not actor.is_admin:
            code = "UNAUTHENTICATED" if actor is None else "FORBIDDEN"
            body = {"errors": [{"message": "Only administrators upload files",
                                "extensions": {"code": code}}]}  # fmt: skip
            return Response(_dump(body), 401 if actor is None else 403, headers)
        return None

    async def _execute(self, request: Request, params: dict[str, Any]) -> ExecutionResult:
        allowed = QUERY_ONLY if request.method == "GET" else QUERY_OR_MUTATION
        try:
            return await self.schema.execute(
                params["query"],
                variable_values=params.get("variables"),
                context_value=await self.context(request),
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
            raise GraphQLRequestError(exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise RequestError(400, "No GraphQL query found in the request") from exc
