"""Approved answers, written and managed by administrators.

A question gets an answer when it is one of the answer's phrasings in other dress
(see similarity.py): the more ways of asking an answer lists, the more it is said.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db.base import utcnow
from ezhr_graphql.errors import InvalidInputError, NotFoundError
from ezhr_graphql.models import ApprovedAnswer, AudienceAttribute
from ezhr_graphql.models.approved import MAX_PHRASINGS, PHRASING_LENGTH
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.approved import ApprovedAnswerRepository
from ezhr_graphql.repositories.audience import AudienceRepository
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.answering.language import detect_language
from ezhr_graphql.services.attributes import Audience

ANSWER_LENGTH = 20_000


@dataclass(frozen=True, slots=True)
class ApprovedFields:
    questions: Sequence[str]
    answer: str
    agent_id: uuid.UUID | None = None
    audience: Audience = field(default_factory=Audience)


def _questions(values: Sequence[str]) -> list[str]:
    """Raises:
    InvalidInputError: none, too many, an empty or over-long one.
    """
    if not values or len(values) > MAX_PHRASINGS:
        raise InvalidInputError("questions", f"questions holds 1 to {MAX_PHRASINGS} ways of asking")
    cleaned = [validation.text("questions", q, PHRASING_LENGTH) for q in values]
    return list(dict.fromkeys(cleaned))


class ApprovedAnswerService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.answers = ApprovedAnswerRepository.from_session(session)
        self.audiences = AudienceRepository.from_session(session)

    async def page(
        self,
        actor: Actor,
        agent_id: uuid.UUID | None,
        retired: bool | None,
        first: int,
        after: str | None,
    ) -> Page[ApprovedAnswer]:
        actor.require_admin()
        return await self.answers.page(agent_id, retired, first, after)

    async def create(self, actor: Actor, fields: ApprovedFields) -> ApprovedAnswer:
        """Raises:
        ForbiddenError: the actor is not an administrator.
        InvalidInputError: a field is malformed, naming it.
        NotFoundError: no such agent.
        """
        actor.require_admin()
        row = ApprovedAnswer(answer="")
        audience = await self._fill(row, actor, fields)
        self.answers.add(row)
        await self.answers.flush()
        await self.audiences.set_approved_answer(row.id, audience)
        return row

    async def update(
        self, actor: Actor, answer_id: uuid.UUID, fields: ApprovedFields
    ) -> ApprovedAnswer:
        """Replace an answer's phrasings, text, agent and audience; its hit count
        stays, and so does whether it is retired. The editor becomes its author.

        Raises:
            ForbiddenError, InvalidInputError, NotFoundError: see :meth:`create`.
        """
        actor.require_admin()
        row = await self._get(answer_id)
        audience = await self._fill(row, actor, fields)
        await self.audiences.set_approved_answer(row.id, audience)
        await self.answers.flush()
        return row

    async def retire(self, actor: Actor, answer_id: uuid.UUID) -> ApprovedAnswer:
        """No question gets it from now on; it stays listed. Retiring a retired answer
        changes nothing.

        Raises:
            ForbiddenError: the actor is not an administrator.
            NotFoundError: no such answer.
        """
        actor.require_admin()
        row = await self._get(answer_id)
        if row.retired_at is None:
            row.retired_at = utcnow()
            await self.answers.flush()
        return row

    async def _get(self, answer_id: uuid.UUID) -> ApprovedAnswer:
        row = await self.answers.get(answer_id)
        if row is None:
            raise NotFoundError("ApprovedAnswer", answer_id)
        return row

    async def _fill(
        self, row: ApprovedAnswer, actor: Actor, fields: ApprovedFields
    ) -> dict[AudienceAttribute, list[str]]:
        """``fields`` checked and set on ``row``, approved by ``actor`` now; the
        audience's rows, for the caller to store once the row has its id.

        Raises:
            InvalidInputError, NotFoundError: see :meth:`create`.
        """
        questions = _questions(fields.questions)
        answer = validation.text("answer", fields.answer, ANSWER_LENGTH)
        audience = fields.audience.cleaned()  # checked before anything is read
        agents = AgentRepository.from_session(self.session)
        if fields.agent_id is not None and await agents.get(fields.agent_id) is None:
            raise NotFoundError("Agent", fields.agent_id)
        languages = {detect_language(q) for q in questions}
        if len(languages) > 1:
            raise InvalidInputError("questions", "questions must all be in one language")
        row.questions, row.answer, row.agent_id = questions, answer, fields.agent_id
        row.language = languages.pop()
        row.author_id, row.author_role, row.approved_at = actor.id, actor.role, utcnow()
        return audience
