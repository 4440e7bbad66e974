"""The events of a reply's stream, typed: one dataclass per event, an enum of the
codes a reply can fail with, and their form on the broker.

A run emits ``ReplyStarted``, ``ReplyCitations`` (with knowledge), ``ReplyDelta``...
and ends with ``ReplyCompleted`` or ``ReplyFailed``; each carries its ``seq``, its
position in the stream, from 1. On the broker an event is a ``StreamEvent``: a kind
and a JSON-ready payload, so that every process, whatever it runs, reads the same
stream. The API only turns these into GraphQL types.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ezhr_graphql.models import ChatMessage
from ezhr_graphql.pubsub import StreamEvent
from ezhr_graphql.services.replies.streams import message_from_snapshot, message_snapshot

logger = logging.getLogger(__name__)


class FailureCode(StrEnum):
    """Why a reply failed."""

    LLM_TIMEOUT = "LLM_TIMEOUT"
    LLM_UNAUTHORIZED = "LLM_UNAUTHORIZED"
    LLM_RATE_LIMITED = "LLM_RATE_LIMITED"
    LLM_UNAVAILABLE = "LLM_UNAVAILABLE"
    LLM_ERROR = "LLM_ERROR"
    AGENT_UNAVAILABLE = "AGENT_UNAVAILABLE"
    INTERRUPTED = "INTERRUPTED"
    STORAGE_ERROR = "STORAGE_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # The reply was deleted while it was followed.
    NOT_FOUND = "NOT_FOUND"
    # A question refused before its reply started (the ``chat`` subscription).
    INVALID_INPUT = "INVALID_INPUT"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    CONFLICT = "CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

    @property
    def reason(self) -> str:
        """What a reply that failed so says to people, when nothing better was kept."""
        return _REASONS.get(self, "The reply failed")

    @classmethod
    def of(cls, code: str | None) -> FailureCode:
        """The code a provider or a stored row names; ``LLM_ERROR`` if it is none of
        ours (a newer provider adapter, say)."""
        try:
            return cls(code or cls.LLM_ERROR)
        except ValueError:
            return cls.LLM_ERROR


_REASONS = {
    FailureCode.LLM_TIMEOUT: "The language model did not answer in time",
    FailureCode.LLM_UNAUTHORIZED: "The language model refused our credentials",
    FailureCode.LLM_RATE_LIMITED: "The language model is rate limiting us",
    FailureCode.LLM_UNAVAILABLE: "The language model is unavailable",
    FailureCode.AGENT_UNAVAILABLE: "The agent of this conversation was deleted",
    FailureCode.INTERRUPTED: "The reply was interrupted; please try again",
    FailureCode.STORAGE_ERROR: "The reply could not be saved",
    FailureCode.SERVICE_UNAVAILABLE: "The service is unavailable; please try again",
    FailureCode.NOT_FOUND: "The reply was deleted",
}


class ReplyError(Exception):
    """A run cannot go on: it ends ``FAILED`` with ``code``; ``reason`` is for people."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    seq: int
    message_id: uuid.UUID
    user_message_id: uuid.UUID
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ReplyCitations:
    seq: int
    # JSON-ready citations, as the reply stores them.
    citations: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    """Text to append; ``seq`` is that of its last token (deltas may be merged)."""

    seq: int
    text: str


@dataclass(frozen=True, slots=True)
class ReplyCompleted:
    """The reply ended normally or was stopped. ``message`` is the stored reply (a
    detached row), or ``None`` when the event did not carry it: read it then."""

    seq: int
    message: ChatMessage | None = None


@dataclass(frozen=True, slots=True)
class ReplyFailed:
    """The reply failed; ``content`` is the text it had (kept on the message)."""

    seq: int
    code: FailureCode
    reason: str
    content: str | None = None
    message: ChatMessage | None = None


ReplyEvent = ReplyStarted | ReplyCitations | ReplyDelta | ReplyCompleted | ReplyFailed
TERMINAL = (ReplyCompleted, ReplyFailed)


def is_terminal(event: ReplyEvent) -> bool:
    return isinstance(event, TERMINAL)


def encode(event: ReplyEvent) -> StreamEvent:
    """The event as the broker carries it."""
    match event:
        case ReplyStarted():
            data: dict[str, Any] = {
                "message_id": str(event.message_id),
                "user_message_id": str(event.user_message_id),
                "session_id": str(event.session_id),
            }
            return StreamEvent(event.seq, "started", data)
        case ReplyCitations():
            return StreamEvent(event.seq, "citations", {"citations": event.citations})
        case ReplyDelta():
            return StreamEvent(event.seq, "delta", {"text": event.text})
        case ReplyCompleted():
            snapshot = None if event.message is None else message_snapshot(event.message)
            return StreamEvent(event.seq, "completed", {"message": snapshot})
        case ReplyFailed():
            data = {"code": event.code.value, "reason": event.reason, "content": event.content}
            if event.message is not None:
                data["message"] = message_snapshot(event.message)
            return StreamEvent(event.seq, "failed", data)


def _field(data: dict[str, Any], name: str, earlier: str) -> Any:
    """``name``, or the spelling streams written before this format used."""
    return data[name] if name in data else data[earlier]


def decode(event: StreamEvent) -> ReplyEvent:
    """The typed event of a broker's ``StreamEvent``. Events of the earlier format
    (camelCase fields; a failure's words under ``message``) are read too, so a
    stream begun before an upgrade is followed to its end after it.

    Raises:
        ValueError: not an event of a reply's stream.
    """
    data = event.data
    try:
        match event.kind:
            case "started":
                return ReplyStarted(
                    event.seq,
                    uuid.UUID(_field(data, "message_id", "messageId")),
                    uuid.UUID(_field(data, "user_message_id", "userMessageId")),
                    uuid.UUID(_field(data, "session_id", "sessionId")),
                )
            case "citations":
                return ReplyCitations(event.seq, list(data["citations"]))
            case "delta":
                return ReplyDelta(event.seq, str(data["text"]))
            case "completed":
                return ReplyCompleted(event.seq, message_from_snapshot(data.get("message")))
            case "failed":
                return _failed(event.seq, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {event.kind} event") from exc
    raise ValueError(f"unknown event kind {event.kind!r}")


def _failed(seq: int, data: dict[str, Any]) -> ReplyFailed:
    reason = data.get("reason")
    words = data.get("message")
    code = FailureCode.of(data.get("code"))
    if not isinstance(reason, str):
        reason = words if isinstance(words, str) else code.reason
    content = data.get("content")
    return ReplyFailed(
        seq,
        code,
        reason,
        content if isinstance(content, str) else None,
        message_from_snapshot(words),
    )


def decoded(events: list[StreamEvent]) -> list[ReplyEvent]:
    """The events of a stream that can be read; one that cannot (written by another
    version, or damaged) is logged and left out rather than failing every reader."""
    typed: list[ReplyEvent] = []
    for event in events:
        try:
            typed.append(decode(event))
        except ValueError:
            logger.warning("skipped an unreadable %s event (seq %s)", event.kind, event.seq)
    return typed
