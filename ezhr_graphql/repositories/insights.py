"""The questions whose replies tell HR something: the ones that got the no-answer
message, a low best passage, a rating down or an unsupported number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from ezhr_graphql.models import (
    ChatFeedback,
    ChatMessage,
    ChatSession,
    FinishReason,
    Grounding,
    MessageRole,
    Rating,
)
from ezhr_graphql.repositories.base import Queries


@dataclass(frozen=True, slots=True)
class SignalFilter:
    low_score: float
    limit: int
    agent_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Which signals count (all four when none is chosen).
    no_answer: bool = True
    low: bool = True
    unsupported: bool = True
    rated_down: bool = True


@dataclass(frozen=True, slots=True)
class Signal:
    """A question and what its reply said about the knowledge. ``asker`` is used to
    count different people only; it never leaves the service."""

    question: str
    asker: uuid.UUID
    asked_at: datetime
    no_answer: bool
    best_score: float | None
    unsupported: bool
    rated_down: bool
    comment: str | None


class InsightRepository(Queries):
    async def signals(self, where: SignalFilter) -> list[Signal]:
        """The newest ``where.limit`` questions with a signal, in one statement.
        Deleted conversations are left out, like everything soft-deleted."""
        reply = aliased(ChatMessage, name="reply")
        question = aliased(ChatMessage, name="question")
        down = and_(ChatFeedback.message_id == reply.id, ChatFeedback.rating == Rating.DOWN)
        no_answer = reply.finish_reason == FinishReason.NO_ANSWER
        answered = or_(reply.finish_reason.is_(None), reply.finish_reason != FinishReason.NO_ANSWER)
        signals = [
            (where.no_answer, no_answer),
            (where.low, and_(reply.best_score < where.low_score, answered)),
            (where.unsupported, reply.grounding == Grounding.UNSUPPORTED),
            (where.rated_down, ChatFeedback.id.is_not(None)),
        ]
        stmt = (
            select(
                question.content,
                ChatSession.owner_id,
                reply.created_at,
                reply.finish_reason,
                reply.best_score,
                reply.grounding,
                ChatFeedback.id,
                ChatFeedback.comment,
            )
            .join(question, question.id == reply.parent_id)
            .join(ChatSession, ChatSession.id == reply.session_id)
            .outerjoin(ChatFeedback, down)
            .where(
                reply.role == MessageRole.ASSISTANT,
                or_(*(clause for chosen, clause in signals if chosen)),
            )
            .order_by(reply.created_at.desc(), reply.id.desc())
            .limit(where.limit)
        )
        if where.agent_id is not None:
            stmt = stmt.where(ChatSession.agent_id == where.agent_id)
        if where.since is not None:
            stmt = stmt.where(reply.created_at >= where.since)
        if where.until is not None:
            stmt = stmt.where(reply.created_at < where.until)
        rows = await self.session.execute(stmt)
        return [
            Signal(
                question=text,
                asker=owner,
                asked_at=at,
                no_answer=finish is FinishReason.NO_ANSWER,
                best_score=score,
                unsupported=grounding is Grounding.UNSUPPORTED,
                rated_down=feedback is not None,
                comment=comment,
            )
            for text, owner, at, finish, score, grounding, feedback, comment in rows
        ]
