"""The audit log: who did what, when, from which address. Rows are only ever added.

It names people by user id only (no email, no content), so erasing a user leaves the
log as it is; the ids are plain values, not foreign keys, for the same reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, utcnow
from ezhr_graphql.models.types import enum_type

# An IPv6 address with a zone, as the transport reports it, fits in 64.
ADDRESS_LENGTH = 64


class AuditAction(StrEnum):
    SIGN_IN = "SIGN_IN"
    SIGN_IN_FAILED = "SIGN_IN_FAILED"
    USER_ROLE_CHANGED = "USER_ROLE_CHANGED"
    USER_ATTRIBUTES_CHANGED = "USER_ATTRIBUTES_CHANGED"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    USER_REACTIVATED = "USER_REACTIVATED"
    USER_DELETED = "USER_DELETED"
    USER_DATA_EXPORTED = "USER_DATA_EXPORTED"
    USER_ERASED = "USER_ERASED"
    AGENT_CREATED = "AGENT_CREATED"
    AGENT_CHANGED = "AGENT_CHANGED"
    AGENT_DELETED = "AGENT_DELETED"
    MODEL_CREATED = "MODEL_CREATED"
    MODEL_CHANGED = "MODEL_CHANGED"
    MODEL_DELETED = "MODEL_DELETED"
    COLLECTION_CREATED = "COLLECTION_CREATED"
    COLLECTION_CHANGED = "COLLECTION_CHANGED"
    COLLECTION_DELETED = "COLLECTION_DELETED"
    DOCUMENT_UPLOADED = "DOCUMENT_UPLOADED"
    DOCUMENT_CHANGED = "DOCUMENT_CHANGED"
    DOCUMENT_DELETED = "DOCUMENT_DELETED"
    APPROVED_ANSWER_CREATED = "APPROVED_ANSWER_CREATED"
    APPROVED_ANSWER_CHANGED = "APPROVED_ANSWER_CHANGED"
    APPROVED_ANSWER_RETIRED = "APPROVED_ANSWER_RETIRED"


class AuditEvent(Base):
    """One thing that happened. No ``updated_at`` or ``deleted_at``: nothing changes
    or hides a row once written."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("IX__audit_event__created_at__id", "created_at", "id"),
        Index("IX__audit_event__actor_id__created_at", "actor_id", "created_at"),
        Index("IX__audit_event__target_id", "target_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who did it; None when nobody is known (a failed sign-in for an unknown email).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[AuditAction] = mapped_column(enum_type(AuditAction, 40))
    # What it was done to: "User", "Agent", "LlmModel"... and its id.
    target_type: Mapped[str | None] = mapped_column(Unicode(40), default=None)
    target_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    address: Mapped[str | None] = mapped_column(Unicode(ADDRESS_LENGTH), default=None)
    # Facts about the change that hold no content: a new role, a sign-in method,
    # counts of what was erased.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
