"""What a reply's stream is called on the broker, and the stored reply as its final
event carries it (a snapshot, so that any process can render it without a read)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from ezhr_graphql.models import ChatMessage, FinishReason, Grounding, MessageRole, MessageStatus

E = TypeVar("E", bound=StrEnum)


def stream_name(message_id: uuid.UUID) -> str:
    return f"message:{message_id}"


# Columns a snapshot carries as they are (JSON-ready); ids, enums and the
# timestamp are converted explicitly.
PLAIN_FIELDS = (
    "content",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token_ms",
    "latency_ms",
    "citations",
    "stream_seq",
    "unsupported_spans",
)


def message_snapshot(message: ChatMessage) -> dict[str, Any]:
    """The stored reply as an event carries it, so that every subscriber, in any
    process, can render it without reading the database."""
    snapshot: dict[str, Any] = {name: getattr(message, name) for name in PLAIN_FIELDS}
    snapshot.update(
        id=str(message.id),
        session_id=str(message.session_id),
        parent_id=None if message.parent_id is None else str(message.parent_id),
        role=message.role.value,
        status=message.status.value,
        finish_reason=None if message.finish_reason is None else message.finish_reason.value,
        grounding=None if message.grounding is None else message.grounding.value,
        created_at=message.created_at.isoformat(),
    )
    return snapshot


def message_from_snapshot(snapshot: object) -> ChatMessage | None:
    """The reply a snapshot describes, as a detached row (``None`` if there is none,
    or it is incomplete)."""
    if not isinstance(snapshot, dict):
        return None
    try:
        return ChatMessage(
            id=uuid.UUID(snapshot["id"]),
            session_id=uuid.UUID(snapshot["session_id"]),
            parent_id=None if snapshot["parent_id"] is None else uuid.UUID(snapshot["parent_id"]),
            role=MessageRole(snapshot["role"]),
            status=MessageStatus(snapshot["status"]),
            finish_reason=_optional(FinishReason, snapshot.get("finish_reason")),
            grounding=_optional(Grounding, snapshot.get("grounding")),
            created_at=datetime.fromisoformat(snapshot["created_at"]),
            **{name: snapshot.get(name) for name in PLAIN_FIELDS},
        )
    except (KeyError, ValueError, TypeError):
        return None


def _optional(enum: type[E], value: object) -> E | None:
    return None if value is None else enum(str(value))
