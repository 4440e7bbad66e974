"""Which approved answer, if any, a question gets (see similarity.py for when a
question is the one an answer was approved for)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from ezhr_graphql.db import Database
from ezhr_graphql.db.base import utcnow
from ezhr_graphql.models import ApprovedAnswer, Role
from ezhr_graphql.repositories.approved import ApprovedAnswerRepository
from ezhr_graphql.services.attributes import reader_of
from ezhr_graphql.services.insights.similarity import Question, same_question


@dataclass(frozen=True, slots=True)
class Match:
    """The approved answer a question gets, as its reply cites it."""

    answer_id: uuid.UUID
    answer: str
    question: str
    author_role: Role
    approved_at: datetime

    def citation(self) -> dict[str, object]:
        return {
            "kind": "APPROVED_ANSWER",
            "approvedAnswerId": str(self.answer_id),
            "title": self.question,
            "quote": self.answer,
            "score": 1.0,
            "authorRole": self.author_role.value,
            "approvedAt": self.approved_at.isoformat(),
        }


def phrased(asked: Question, answers: list[ApprovedAnswer]) -> ApprovedAnswer | None:
    """The newest answer one of whose phrasings ``asked`` is."""
    for answer in sorted(answers, key=lambda a: a.approved_at, reverse=True):
        if any(same_question(asked, Question.of(q, answer.language)) for q in answer.questions):
            return answer
    return None


class ApprovedAnswers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def match(self, agent_id: uuid.UUID, reader_id: uuid.UUID, question: str) -> Match | None:
        """The approved answer ``question``, asked of agent ``agent_id`` by the user
        ``reader_id``, gets (one in use, for that agent or every agent, whose audience
        admits the user as stored now), counted as a hit; ``None`` if none."""
        asked = Question.of(question)
        if not asked.said:
            return None
        async with self.db.read() as session:
            reader = await reader_of(session, reader_id)
            answers = await ApprovedAnswerRepository.from_session(session).in_use_for(
                agent_id, reader, asked.language
            )
        best = phrased(asked, answers)
        if best is None:
            return None
        async with self.db.transaction() as session:
            answers_now = ApprovedAnswerRepository.from_session(session)
            if not await answers_now.count_hit(best.id, utcnow()):
                return None  # retired since it was read: the documents answer
        return Match(best.id, best.answer, best.questions[0], best.author_role, best.approved_at)
