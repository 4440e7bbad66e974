"""Agent queries: members see public agents and their own; admins see all."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.agents.types import Agent, AgentConnectionResult, AgentResult
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.loaders import prefetched
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.container import Services


@strawberry.type
class AgentQueries:
    @strawberry.field(description="Agents the viewer can chat with, by name.")
    async def agents(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> AgentConnectionResult:
        ctx = info.context
        actor = ctx.require_actor()

        async def action(services: Services) -> Connection[Agent]:
            page = await services.agents.page(actor, ctx.page_size(first), after)
            return Connection[Agent].of(page, Agent.from_model)

        loaders = ctx.loaders
        return await prefetched(
            info,
            await resolve.read(ctx, action),
            {
                "llmModel": (loaders.llm_model_by_id, "llm_model_id"),
                "embeddingModel": (loaders.embedding_model_by_id, "embedding_model_id"),
            },
        )

    @strawberry.field(description="One agent the viewer can chat with.")
    async def agent(self, info: Info, id: strawberry.ID) -> AgentResult:
        return await resolve.query(
            info.context, lambda s, a: s.agents.get(a, parse_id(id)), Agent.from_model
        )
