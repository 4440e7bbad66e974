"""Writing, editing and retiring approved answers (administrators only; audited)."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.insights.types import (
    ApprovedAnswer,
    ApprovedAnswerInput,
    ApprovedAnswerResult,
)
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.models.audit import AuditAction


@strawberry.type
class InsightMutations:
    @strawberry.mutation(
        description="Approve an answer to a question (admins only): from then on, whoever "
        "is in its audience and asks one of its phrasings (case, punctuation, word forms, "
        "articles and politeness aside) gets this answer, cited as approved, and no model "
        "is asked. List every way people ask as a phrasing."
    )
    async def create_approved_answer(
        self, info: Info, input: ApprovedAnswerInput
    ) -> ApprovedAnswerResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.approved_answers.create(a, input.to_fields()),
            ApprovedAnswer.from_model,
            admin=True,
            audit=AuditAction.APPROVED_ANSWER_CREATED,
        )

    @strawberry.mutation(
        description="Replace an approved answer's questions, text, agent and audience "
        "(admins only); its hit count stays."
    )
    async def update_approved_answer(
        self, info: Info, id: strawberry.ID, input: ApprovedAnswerInput
    ) -> ApprovedAnswerResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.approved_answers.update(a, parse_id(id), input.to_fields()),
            ApprovedAnswer.from_model,
            admin=True,
            audit=AuditAction.APPROVED_ANSWER_CHANGED,
        )

    @strawberry.mutation(
        description="Retire an approved answer (admins only): no question gets it any more; "
        "it stays listed with its hit count."
    )
    async def retire_approved_answer(self, info: Info, id: strawberry.ID) -> ApprovedAnswerResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.approved_answers.retire(a, parse_id(id)),
            ApprovedAnswer.from_model,
            admin=True,
            audit=AuditAction.APPROVED_ANSWER_RETIRED,
        )
