"""Structured logs: one JSON object per line, carrying the request's id, the user and
the GraphQL operation from context variables.

Only what the code names goes into a record: the message and the context fields, never
request bodies, variables, message contents, passwords or tokens.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any


class RequestInfo:
    """What every log record of a request carries; filled in as the request goes."""

    __slots__ = ("operation", "request_id", "user_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.user_id: str | None = None
        self.operation: str | None = None


# One variable per request (set once by the request middleware, then updated in
# place), rather than one per field.
current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "request", default=None
)

# Attributes a LogRecord has of its own; anything else was passed in ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "color_message",  # uvicorn's terminal colours
}


def install_context() -> None:
    """Stamp every log record, when it is created, with the request's context, so
    that a handler formatting it later (or elsewhere) still has it. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        info = current.get()
        if info is not None:
            for name in RequestInfo.__slots__:
                value = getattr(info, name)
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return record

    factory.stamps_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", json_logs: bool = True) -> None:
    """Send every log record to stderr, as JSON lines (or plain text for a terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install_context()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Uvicorn's own access log repeats what the request log says, without the context.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
