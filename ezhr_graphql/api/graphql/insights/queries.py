"""Insights and approved answers (administrators only)."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.insights.types import (
    ApprovedAnswer,
    ApprovedAnswerConnectionResult,
    InsightFilter,
    InsightGroup,
    InsightGroupConnectionResult,
)
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id


@strawberry.type
class InsightQueries:
    @strawberry.field(
        description="What employees asked that the knowledge answered badly or not at all, "
        "similar questions grouped, most asked first (admins only). A group is shown only "
        "when enough different people asked it (EZHR_INSIGHTS__MIN_GROUP_SIZE); it never "
        "says who they were."
    )
    async def insights(
        self,
        info: Info,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        filter: InsightFilter | None = None,
    ) -> InsightGroupConnectionResult:
        ctx = info.context
        return await resolve.query(
            ctx,
            lambda s, a: s.insights.groups(
                a, (filter or InsightFilter()).to_query(), ctx.page_size(first), after
            ),
            lambda page: Connection[InsightGroup].of(page, InsightGroup.of),
            admin=True,
        )

    @strawberry.field(
        description="Approved answers, newest first (admins only): those for `agentId` "
        "(every agent's included), and only retired or only in-use ones with `retired`."
    )
    async def approved_answers(
        self,
        info: Info,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        agent_id: strawberry.ID | None = None,
        retired: bool | None = None,
    ) -> ApprovedAnswerConnectionResult:
        ctx = info.context
        return await resolve.query(
            ctx,
            lambda s, a: s.approved_answers.page(
                a,
                None if agent_id is None else parse_id(agent_id, "agentId"),
                retired,
                ctx.page_size(first),
                after,
            ),
            lambda page: Connection[ApprovedAnswer].of(page, ApprovedAnswer.from_model),
            admin=True,
        )
