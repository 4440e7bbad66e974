"""Request context for logs and metrics: a request id per HTTP request or websocket,
and one log line per request with its status and duration."""

from __future__ import annotations

import logging
import re
import time
import uuid
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ezhr_graphql.observe import logs
from ezhr_graphql.observe.metrics import HTTP_REQUESTS

logger = logging.getLogger("ezhr_graphql.requests")

REQUEST_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}
# The method label's values: under h11 a client may send any token as the method, and
# each label value would be a series for as long as the process lives.
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
MAX_LOGGED_METHOD = 32  # longer methods are cut to this in logs


def method_label(scope: Scope) -> str:
    """The request's method as metrics label it: ``WS`` for a websocket, one of
    :data:`METHODS`, or ``other``."""
    if scope["type"] == "websocket":
        return "WS"
    method = scope.get("method")
    return method if method in METHODS else "other"


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
    """The counter child of a method label and status class, looked up once."""
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
            method = str(scope.get("method", "WS"))[:MAX_LOGGED_METHOD]
            if scope["type"] == "http":
                _requests_counter(method_label(scope), status).inc()
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
