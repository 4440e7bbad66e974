"""The audit log: every change an administrator makes, sign-ins, exports and erasures.

An event is written in the same transaction as the change it records, so a change
that rolls back leaves no event and a committed one always has its event. It holds
user ids, never email addresses or what anybody wrote.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models.audit import ADDRESS_LENGTH, AuditAction, AuditEvent
from ezhr_graphql.repositories.audit import AuditFilter, AuditRepository
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.services.actor import Actor

__all__ = ["AuditFilter", "AuditLog"]


class AuditLog:
    def __init__(self, session: AsyncSession, address: str | None = None) -> None:
        self.events = AuditRepository.from_session(session)
        # Where the request came from (the caller's address as the rate limits see it).
        self.address = None if address is None else address[:ADDRESS_LENGTH]

    def record(
        self,
        actor_id: uuid.UUID | None,
        action: AuditAction,
        target: tuple[str, uuid.UUID | None] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Add an event to the unit of work: it is stored when the transaction
        commits, and not at all if it rolls back."""
        target_type, target_id = target if target is not None else (None, None)
        return self.events.add(
            AuditEvent(
                actor_id=actor_id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                address=self.address,
                details=details or {},
            )
        )

    async def page(
        self, actor: Actor, where: AuditFilter, first: int, after: str | None
    ) -> Page[AuditEvent]:
        """Events newest first, narrowed by ``where`` (administrators only).

        Raises:
            ForbiddenError: the actor is not an administrator.
            InvalidInputError: ``since`` is not before ``until``.
        """
        actor.require_admin()
        if where.since is not None and where.until is not None and where.since >= where.until:
            raise InvalidInputError("since", "since must be before until")
        return await self.events.page(where, first, after)
