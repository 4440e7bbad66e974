"""Knowledge gaps for HR: the questions the assistant answered badly or not at all,
similar ones grouped, never saying who asked.

A group is the questions alike enough (see similarity.py), newest first; it is shown
only when at least ``min_group_size`` different people asked them, and shows question
text, counts, comments and the day it was last asked, never a user, a session, a
message or a finer time (cursors included). The time window is widened to whole days
for the same reason: moved by a minute at a time, it could tell when each question of
a group was asked; and it ends before today, or polling it would tell the same.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import column
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db.base import utcnow
from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.people_settings import InsightsSettings
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.rag.embeddings import LOCAL_SPEC
from ezhr_graphql.repositories.base import STRING, Keyset, Page, key
from ezhr_graphql.repositories.insights import InsightRepository, Signal, SignalFilter
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.insights.similarity import GROUP_SIMILARITY, Question, alike

EXAMPLES = 3
COMMENTS = 3


class InsightKind(StrEnum):
    NO_ANSWER = "NO_ANSWER"  # the agent said its no-answer message
    LOW_SCORE = "LOW_SCORE"  # answered, from a passage that scored low
    RATED_DOWN = "RATED_DOWN"  # the asker rated the reply down
    UNSUPPORTED = "UNSUPPORTED"  # the reply holds numbers its passages do not


def kinds_of(signal: Signal, low_score: float) -> set[InsightKind]:
    kinds = set()
    if signal.no_answer:
        kinds.add(InsightKind.NO_ANSWER)
    elif signal.best_score is not None and signal.best_score < low_score:
        kinds.add(InsightKind.LOW_SCORE)
    if signal.rated_down:
        kinds.add(InsightKind.RATED_DOWN)
    if signal.unsupported:
        kinds.add(InsightKind.UNSUPPORTED)
    return kinds


@dataclass(frozen=True, slots=True)
class InsightQuery:
    agent_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    kinds: frozenset[InsightKind] = frozenset()

    def chooses(self, kind: InsightKind) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass
class InsightGroup:
    """Similar questions: the newest one's text, a few others, and counts."""

    question: str
    language: str
    last_asked: datetime
    examples: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    kinds: dict[InsightKind, int] = field(default_factory=dict)
    count: int = 0
    askers: set[uuid.UUID] = field(default_factory=set)

    # The keyset's columns: most asked first, then the most recent day.
    @property
    def asked(self) -> str:
        return f"{self.count:08d}"

    @property
    def last_asked_on(self) -> date:
        return self.last_asked.astimezone(UTC).date()

    @property
    def people(self) -> int:
        return len(self.askers)

    def position(self) -> tuple[int, int, str]:
        return (-self.count, -self.last_asked_on.toordinal(), self.question)

    def add(self, signal: Signal, kinds: set[InsightKind]) -> None:
        self.count += 1
        self.askers.add(signal.asker)
        for kind in kinds:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        text = signal.question.strip()
        if len(self.examples) < EXAMPLES and text not in self.examples and text != self.question:
            self.examples.append(text)
        comment = (signal.comment or "").strip()
        if comment and len(self.comments) < COMMENTS and comment not in self.comments:
            self.comments.append(comment)


GROUPS_KEYSET = Keyset(
    key(column("asked"), STRING, desc=True),
    key(column("last_asked_on"), STRING, desc=True),
    key(column("question"), STRING),
)


def _after(cursor: str) -> tuple[int, int, str]:
    """The position a cursor of this list names.

    Raises:
        InvalidInputError: not a cursor of this list.
    """
    asked, day, question = GROUPS_KEYSET.decode(cursor)
    try:
        return (-int(asked), -date.fromisoformat(day).toordinal(), question)
    except ValueError as exc:
        raise InvalidInputError("after", "Invalid pagination cursor") from exc


def whole_days(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime | None, datetime]:
    """The window widened to whole days (UTC), ending at the latest when today began
    (``now``'s day)."""
    today = _midnight(now)
    start = None if since is None else _midnight(since)
    end = today if until is None else _midnight(until)
    if until is not None and end < until and end < today:
        end += timedelta(days=1)
    return start, min(end, today)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


class InsightService:
    def __init__(
        self, session: AsyncSession, models: ModelRegistry, settings: InsightsSettings
    ) -> None:
        self.signals = InsightRepository.from_session(session)
        self.models = models
        self.settings = settings

    async def groups(
        self, actor: Actor, query: InsightQuery, first: int, after: str | None
    ) -> Page[InsightGroup]:
        """Groups of the newest ``max_questions`` questions with a signal that
        ``query`` selects, most asked first (administrators only).

        Raises:
            ForbiddenError: the actor is not an administrator.
            InvalidInputError: ``since`` is not before ``until``; a malformed cursor.
        """
        actor.require_admin()
        if query.since and query.until and query.since >= query.until:
            raise InvalidInputError("since", "since must be before until")
        mark = None if after is None else _after(after)
        low = self.settings.low_score
        since, until = whole_days(query.since, query.until, utcnow())
        found = await self.signals.signals(
            SignalFilter(
                low,
                self.settings.max_questions,
                query.agent_id,
                since,
                until,
                no_answer=query.chooses(InsightKind.NO_ANSWER),
                low=query.chooses(InsightKind.LOW_SCORE),
                unsupported=query.chooses(InsightKind.UNSUPPORTED),
                rated_down=query.chooses(InsightKind.RATED_DOWN),
            )
        )
        chosen = [
            (s, kinds)
            for s in found
            if (kinds := kinds_of(s, low)) and any(query.chooses(k) for k in kinds)
        ]
        groups = await asyncio.to_thread(self._grouped, chosen)
        shown = sorted(
            (g for g in groups if g.people >= self.settings.min_group_size),
            key=InsightGroup.position,
        )
        if mark is not None:
            shown = [g for g in shown if g.position() > mark]
        return Page(shown[:first], len(shown) > first, after is not None, GROUPS_KEYSET)

    def _grouped(self, chosen: Sequence[tuple[Signal, set[InsightKind]]]) -> list[InsightGroup]:
        """Each question joins the group whose first question it is most alike, if
        alike enough, or starts one; newest first, so a group shows its newest. In a
        worker thread: a thousand questions take most of a second."""
        questions = [Question.of(s.question) for s, _ in chosen]
        vectors = self._vectors(questions)
        groups: list[InsightGroup] = []
        heads: list[int] = []  # the index of each group's first question
        for i, ((signal, kinds), asked) in enumerate(zip(chosen, questions, strict=True)):
            best, best_score = None, GROUP_SIMILARITY
            cosines = vectors[heads] @ vectors[i] if heads else []
            for g, head in enumerate(heads):
                score = alike(asked, questions[head], float(cosines[g]))
                if score >= best_score:
                    best, best_score = g, score
            if best is None:
                groups.append(InsightGroup(asked.text.strip(), asked.language, signal.asked_at))
                heads.append(i)
                best = len(groups) - 1
            groups[best].add(signal, kinds)
        return groups

    def _vectors(self, questions: list[Question]) -> NDArray[np.float32]:
        """Unit vectors of the questions the local model reads (zeros for others)."""
        readable = [i for i, q in enumerate(questions) if q.readable]
        result = np.zeros((len(questions), LOCAL_SPEC.dimensions), dtype=np.float32)
        if readable:
            texts = [questions[i].text for i in readable]
            result[readable] = self.models.embedder(LOCAL_SPEC).embed_documents(texts)
        return result
