"""Agent mutations (admins only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.agents.types import (
    Agent,
    AgentResult,
    CreateAgentInput,
    UpdateAgentInput,
)
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.results import DeleteResult, deleted
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.models import Agent as AgentRow
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.agents import AgentService


def _change(
    info: Info,
    change: Callable[[AgentService, Actor], Awaitable[AgentRow]],
    audit: AuditAction = AuditAction.AGENT_CHANGED,
) -> Awaitable[Agent | UserErrorType]:
    return resolve.change(
        info.context,
        lambda s, a: change(s.agents, a),
        Agent.from_model,
        admin=True,
        audit=audit,
        facts=_facts,
    )


def _facts(agent: AgentRow) -> dict[str, Any]:
    """What the audit log keeps of an agent's change: how long it keeps conversations
    (shortened, the next sweep removes the older ones)."""
    days = agent.retention_days
    return {"retentionDays": "forever" if days is None else days}


@strawberry.type
class AgentMutations:
    @strawberry.mutation(description="Create an agent (admins only).")
    async def create_agent(self, info: Info, input: CreateAgentInput) -> AgentResult:
        return await _change(
            info, lambda s, a: s.create(a, input.to_fields()), AuditAction.AGENT_CREATED
        )

    @strawberry.mutation(
        description="Change an agent (admins only). A new embedding model re-embeds its "
        "collections in the background; answers use the current index until then."
    )
    async def update_agent(
        self, info: Info, id: strawberry.ID, input: UpdateAgentInput
    ) -> AgentResult:
        return await _change(info, lambda s, a: s.update(a, parse_id(id), input.to_fields()))

    @strawberry.mutation(description="Replace an agent's starter messages (at most four).")
    async def set_agent_starter_messages(
        self, info: Info, id: strawberry.ID, messages: list[str]
    ) -> AgentResult:
        return await _change(info, lambda s, a: s.set_starter_messages(a, parse_id(id), messages))

    @strawberry.mutation(description="Delete an agent; its chat sessions stay readable.")
    async def delete_agent(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.agents.delete(a, parse_id(id)),
            deleted,
            admin=True,
            audit=AuditAction.AGENT_DELETED,
        )
