"""The audit log's rows: added, and read a page at a time. Nothing here changes or
removes one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ezhr_graphql.models.audit import AuditAction, AuditEvent
from ezhr_graphql.repositories.base import DATETIME, UUID, Keyset, Page, Repository, key

# Newest first: who reads an audit log starts from what just happened.
AUDIT_KEYSET = Keyset(
    key(AuditEvent.created_at, DATETIME, desc=True), key(AuditEvent.id, UUID, desc=True)
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    actions: tuple[AuditAction, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


class AuditRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def page(self, where: AuditFilter, first: int, after: str | None) -> Page[AuditEvent]:
        stmt = select(AuditEvent)
        if where.actor_id is not None:
            stmt = stmt.where(AuditEvent.actor_id == where.actor_id)
        if where.target_id is not None:
            stmt = stmt.where(AuditEvent.target_id == where.target_id)
        if where.actions:
            stmt = stmt.where(AuditEvent.action.in_(where.actions))
        if where.since is not None:
            stmt = stmt.where(AuditEvent.created_at >= where.since)
        if where.until is not None:
            stmt = stmt.where(AuditEvent.created_at < where.until)
        return await AUDIT_KEYSET.page(self.session, stmt, first, after)
