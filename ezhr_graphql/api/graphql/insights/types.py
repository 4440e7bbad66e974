from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.knowledge.types import Audience, AudienceInput
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import aware, gid, parse_id
from ezhr_graphql.api.graphql.users.types import Role
from ezhr_graphql.models import ApprovedAnswer as ApprovedAnswerRow
from ezhr_graphql.services.attributes import Audience as AudienceValue
from ezhr_graphql.services.insights.approved import ApprovedFields
from ezhr_graphql.services.insights.insights import InsightGroup as InsightGroupValue
from ezhr_graphql.services.insights.insights import InsightKind as InsightKindModel
from ezhr_graphql.services.insights.insights import InsightQuery


@strawberry.enum(description="What a reply said about the knowledge behind it.")
class InsightKind(Enum):
    NO_ANSWER = strawberry.enum_value(
        "NO_ANSWER", description="The agent said its no-answer message."
    )
    LOW_SCORE = strawberry.enum_value(
        "LOW_SCORE", description="It answered from a passage that scored low."
    )
    RATED_DOWN = strawberry.enum_value("RATED_DOWN", description="The asker rated it down.")
    UNSUPPORTED = strawberry.enum_value(
        "UNSUPPORTED", description="It holds numbers its cited passages do not."
    )


@strawberry.type(description="How many questions of a group had one kind of signal.")
class InsightKindCount:
    kind: InsightKind = strawberry.field(description="The signal.")
    count: int = strawberry.field(description="Questions of the group with it.")


@strawberry.type(
    description="Similar questions employees asked that the knowledge answered badly or "
    "not at all. Never says who asked: only text and counts, and only when enough "
    "different people asked."
)
class InsightGroup:
    question: str = strawberry.field(description="The newest question of the group.")
    examples: list[str] = strawberry.field(description="A few other ways it was asked.")
    language: str = strawberry.field(description="Their language (en, vi...).")
    count: int = strawberry.field(description="How many times it was asked.")
    people: int = strawberry.field(description="How many different people asked it.")
    last_asked_on: date = strawberry.field(description="The day it was last asked.")
    kinds: list[InsightKindCount] = strawberry.field(description="What its replies showed.")
    comments: list[str] = strawberry.field(
        description="A few comments of the people who rated a reply down."
    )

    @classmethod
    def of(cls, group: InsightGroupValue) -> Self:
        return cls(
            question=group.question,
            examples=list(group.examples),
            language=group.language,
            count=group.count,
            people=group.people,
            last_asked_on=group.last_asked_on,
            kinds=[
                InsightKindCount(kind=InsightKind[k.name], count=n)
                for k, n in sorted(group.kinds.items())
            ],
            comments=list(group.comments),
        )


@strawberry.input(description="Which questions insights read; every field narrows.")
class InsightFilter:
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Questions asked of this agent."
    )
    since: datetime | None = strawberry.field(
        default=None, description="Asked on or after this day (UTC; the time is ignored)."
    )
    until: datetime | None = strawberry.field(
        default=None,
        description="Asked before this time, widened to the end of its day (UTC); at the "
        "latest before today: insights show whole days only.",
    )
    kinds: list[InsightKind] | None = strawberry.field(
        default=None, description="Questions with one of these signals (all by default)."
    )

    def to_query(self) -> InsightQuery:
        """Raises:
        InvalidInputError: a malformed ID, or a time without a time zone.
        """
        return InsightQuery(
            agent_id=None if self.agent_id is None else parse_id(self.agent_id, "agentId"),
            since=aware("since", self.since),
            until=aware("until", self.until),
            kinds=frozenset(InsightKindModel[k.name] for k in self.kinds or ()),
        )


@strawberry.type(
    description="An administrator's answer to a question, said as written (no model is "
    "asked) to whoever asks that question again and is in its audience."
)
class ApprovedAnswer:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    questions: list[str] = strawberry.field(description="The ways the question is put.")
    answer: str = strawberry.field(description="The answer.")
    language: str = strawberry.field(description="The language of the questions.")
    agent_id: strawberry.ID | None = strawberry.field(
        description="The agent it answers for; null: every agent."
    )
    author_role: Role = strawberry.field(description="The role of who approved it.")
    approved_at: datetime = strawberry.field(description="When it was last approved.")
    retired_at: datetime | None = strawberry.field(
        description="When it was retired (then it is no longer said); null while in use."
    )
    hit_count: int = strawberry.field(description="How many questions it has answered.")
    last_hit_at: datetime | None = strawberry.field(description="When it last answered one.")
    row_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Who it is said to; everyone when no list constrains.")
    async def audience(self, info: Info) -> Audience:
        rows = await info.context.loaders.audience_by_approved_answer_id.load(self.row_id)
        return Audience.of(rows)

    @classmethod
    def from_model(cls, row: ApprovedAnswerRow) -> Self:
        return cls(
            id=gid(row.id),
            questions=list(row.questions),
            answer=row.answer,
            language=row.language,
            agent_id=None if row.agent_id is None else gid(row.agent_id),
            author_role=Role[row.author_role.name],
            approved_at=row.approved_at,
            retired_at=row.retired_at,
            hit_count=row.hit_count,
            last_hit_at=row.last_hit_at,
            row_id=row.id,
        )


@strawberry.input(description="An approved answer, all of it (editing replaces it whole).")
class ApprovedAnswerInput:
    questions: list[str] = strawberry.field(
        description="1 to 20 ways employees put the question (from an insight group's "
        "question and examples, or written), all in one language."
    )
    answer: str = strawberry.field(description="The answer, as employees will read it.")
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The agent it answers for; null: every agent."
    )
    audience: AudienceInput | None = strawberry.field(
        default=None, description="Who it is said to; omitted: everyone."
    )

    def to_fields(self) -> ApprovedFields:
        """Raises:
        InvalidInputError: a malformed agent ID.
        """
        return ApprovedFields(
            questions=list(self.questions),
            answer=self.answer,
            agent_id=None if self.agent_id is None else parse_id(self.agent_id, "agentId"),
            audience=AudienceValue() if self.audience is None else self.audience.to_audience(),
        )


InsightGroupConnectionResult = Annotated[
    Connection[InsightGroup] | UserErrorType,
    strawberry.union("InsightGroupConnectionResult", description="A page of insight groups."),
]
ApprovedAnswerConnectionResult = Annotated[
    Connection[ApprovedAnswer] | UserErrorType,
    strawberry.union("ApprovedAnswerConnectionResult", description="A page of approved answers."),
]
ApprovedAnswerResult = Annotated[
    ApprovedAnswer | UserErrorType,
    strawberry.union(
        "ApprovedAnswerResult", description="An approved answer, or why it could not be changed."
    ),
]
