"""Which approved answer, if any, a question gets (see similarity.py for when a
question is the one an answer was approved for)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ezhr_graphql.db import Database
from ezhr_graphql.db.base import utcnow
from ezhr_graphql.models import ApprovedAnswer, Role
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.rag.embeddings import LOCAL_SPEC
from ezhr_graphql.repositories.approved import ApprovedAnswerRepository
from ezhr_graphql.services.attributes import reader_of
from ezhr_graphql.services.insights.similarity import (
    Question,
    cosines,
    same_question,
    same_words,
)

# The cosine a reworded question, in a language the local model reads, must reach
# with a phrasing of an approved answer. On bench/approved_matching.py's pairs the
# closest different question scored 0.906 ("approving" for "submitting expense
# claims"); rewordings spread from 0.59 to 0.96, so most are missed (add them as
# phrasings).
DEFAULT_MIN_COSINE = 0.93


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


class ApprovedAnswers:
    def __init__(
        self, db: Database, models: ModelRegistry, min_cosine: float = DEFAULT_MIN_COSINE
    ) -> None:
        self.db = db
        self.models = models
        self.min_cosine = min_cosine

    async def match(self, agent_id: uuid.UUID, reader_id: uuid.UUID, question: str) -> Match | None:
        """The approved answer ``question``, asked of agent ``agent_id`` by the user
        ``reader_id``, gets (one in use, for that agent or every agent, whose audience
        admits the user as stored now), counted as a hit; ``None`` if none. The
        question is embedded only when there are answers to compare it with."""
        asked = Question.of(question)
        async with self.db.read() as session:
            reader = await reader_of(session, reader_id)
            answers = await ApprovedAnswerRepository.from_session(session).in_use_for(
                agent_id, reader, asked.language
            )
        if not answers:
            return None
        best = await self._best(asked, answers)
        if best is None:
            return None
        async with self.db.transaction() as session:
            answers_now = ApprovedAnswerRepository.from_session(session)
            if not await answers_now.count_hit(best.id, utcnow()):
                return None  # retired since it was read: the documents answer
        return Match(best.id, best.answer, best.questions[0], best.author_role, best.approved_at)

    async def _best(self, asked: Question, answers: list[ApprovedAnswer]) -> ApprovedAnswer | None:
        """The answer with a phrasing ``asked`` is, the closest first."""
        query = await self._vector(asked) if asked.readable else None
        best: tuple[float, ApprovedAnswer] | None = None
        for answer in answers:
            for phrasing, score in zip(answer.questions, _scores(answer, query), strict=False):
                candidate = Question.of(phrasing, answer.language)
                cosine = float(score)
                if not same_question(asked, candidate, cosine, self.min_cosine):
                    continue
                closeness = 1.0 if same_words(asked, candidate) else cosine
                if best is None or closeness > best[0]:
                    best = (closeness, answer)
        return None if best is None else best[1]

    async def _vector(self, asked: Question) -> np.ndarray:
        def embed() -> np.ndarray:
            return self.models.embedder(LOCAL_SPEC).embed_query(asked.text)

        return await asyncio.to_thread(embed)


def _scores(answer: ApprovedAnswer, query: np.ndarray | None) -> np.ndarray:
    """The cosine of ``query`` with each of the answer's phrasings (zeros without)."""
    if query is None or not answer.vectors:
        return np.zeros(len(answer.questions), dtype=np.float32)
    rows = np.frombuffer(answer.vectors, dtype=np.float32).reshape(-1, query.shape[-1])
    return cosines(rows, query)
