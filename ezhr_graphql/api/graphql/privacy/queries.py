"""The audit log (administrators only)."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.privacy.types import (
    AuditEvent,
    AuditEventConnectionResult,
    AuditLogFilter,
)


@strawberry.type
class PrivacyQueries:
    @strawberry.field(
        description="The audit log, newest first (admins only): sign-ins, changes to "
        "users, agents, models, knowledge and approved answers, exports and erasures. "
        "Nothing in the API changes or removes an event."
    )
    async def audit_log(
        self,
        info: Info,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        filter: AuditLogFilter | None = None,
    ) -> AuditEventConnectionResult:
        ctx = info.context
        return await resolve.query(
            ctx,
            lambda s, a: s.audit.page(
                a, (filter or AuditLogFilter()).to_filter(), ctx.page_size(first), after
            ),
            lambda page: Connection[AuditEvent].of(page, AuditEvent.from_model),
            admin=True,
        )
