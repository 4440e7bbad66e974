"""Agent mutations (admins only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.api import resolve
from ezhr_graphql.api.agents.types import Agent, AgentResult, CreateAgentInput, UpdateAgentInput
from ezhr_graphql.api.context import Info
from ezhr_graphql.api.errors import UserErrorType
from ezhr_graphql.api.results import Deleted, DeleteResult
from ezhr_graphql.api.scalars import gid, parse_id
from ezhr_graphql.models import Agent as AgentRow
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.agents import AgentService

Change = Callable[[AgentService, Actor], Awaitable[AgentRow]]


async def _change(info: Info, change: Change) -> Agent | UserErrorType:
    ctx = info.context
    actor = ctx.require_admin()

    async def action(session: AsyncSession) -> Agent:
        return Agent.from_model(await change(AgentService(session), actor))

    return await resolve.write(ctx, action)


@strawberry.type
class AgentMutations:
    @strawberry.mutation(description="Create an agent (admins only).")
    async def create_agent(self, info: Info, input: CreateAgentInput) -> AgentResult:
        return await _change(info, lambda s, a: s.create(a, input.to_fields()))

    @strawberry.mutation(description="Change an agent (admins only).")
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
        ctx = info.context
        actor = ctx.require_admin()

        async def action(session: AsyncSession) -> Deleted:
            return Deleted(id=gid((await AgentService(session).delete(actor, parse_id(id))).id))

        return await resolve.write(ctx, action)
