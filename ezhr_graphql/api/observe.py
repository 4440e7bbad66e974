"""Request context for logs and metrics: a request id per HTTP request or websocket,
the user and operation of each GraphQL operation, and what they cost."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from ezhr_graphql.api.context import Context
from ezhr_graphql.observe import logs
from ezhr_graphql.observe.metrics import (
    HTTP_REQUESTS,
    OPERATION_SECONDS,
    OPERATIONS,
    SUBSCRIPTIONS_OPEN,
)

logger = logging.getLogger("ezhr_graphql.requests")

REQUEST_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            given = str(value.decode("latin-1"))
            if _VALID_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


@lru_cache(maxsize=256)
def _requests_counter(method: str, status: int) -> Any:
    """The counter child of a method and status class, looked up once."""
    return HTTP_REQUESTS.labels(method, f"{status // 100}xx" if status else "none")


class RequestContext:
    """Pure ASGI middleware: sets the log context, echoes X-Request-ID, and logs one
    line per request (or websocket) with its status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = logs.current.set(logs.RequestInfo(rid))
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]  # the latter: a refused websocket upgrade
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, rid.encode())]
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            method = scope.get("method", "WS")
            if scope["type"] == "http":
                _requests_counter(method, status).inc()
            level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
            if logger.isEnabledFor(level):  # the request line only when it is written
                duration = round((time.perf_counter() - started) * 1000, 2)
                logger.log(
                    level,
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": duration,
                    },
                )
            logs.current.reset(token)


class OperationMetrics(SchemaExtension):
    """Names the operation in the log context and counts it: by name, type and
    outcome, with a latency histogram for queries and mutations."""

    async def on_operation(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        context = self.execution_context.context
        request = logs.current.get()
        info = None
        if request is not None:
            # A record of this operation's own: operations of one websocket run
            # concurrently and must not name each other.
            info = logs.RequestInfo(request.request_id)
            if isinstance(context, Context) and context.actor is not None:
                info.user_id = str(context.actor.id)
            info.operation = self.execution_context.operation_name or "anonymous"
            logs.current.set(info)
        yield
        # Known once the document is parsed: the name may come from the document.
        name = self.execution_context.operation_name or "anonymous"
        if info is not None:
            info.operation = name
        try:
            kind_name = str(self.execution_context.operation_type.value)
        except Exception:  # the document did not parse, or names no single operation
            kind_name = "unknown"
        result = self.execution_context.result
        errors = getattr(result, "errors", None) or self.execution_context.pre_execution_errors
        outcome = "error" if errors else ("user_error" if _has_user_error(result) else "ok")
        OPERATIONS.labels(name, kind_name, outcome).inc()
        if kind_name in ("query", "mutation"):
            OPERATION_SECONDS.labels(name, kind_name).observe(time.perf_counter() - started)


def _has_user_error(result: Any) -> bool:
    """Whether a top-level field came back as a typed error (a union's UserError)."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict):
        return False
    return any(isinstance(v, dict) and "code" in v and "message" in v for v in data.values())


@contextmanager
def open_subscription(field: str) -> Iterator[None]:
    """The open-subscription gauge, up while the block runs."""
    gauge = SUBSCRIPTIONS_OPEN.labels(field)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
