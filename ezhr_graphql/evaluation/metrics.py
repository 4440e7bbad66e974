"""What an evaluation measures, from one outcome per question.

- **Retrieval** (answerable questions): the rank of the first cited document that is
  the expected source, among the distinct documents the reply cites in citation
  order (best first). hit@1: rank 1; hit@5: rank 5 or better; MRR: the mean of
  1/rank, 0 when no cited document is the source. A reply that failed or refused
  cites nothing, and so misses.
- **Search** (answerable questions): the same figures over the documents of the
  passages the agent's search returns (its ``topK``, best first), before the
  relevance floor decides whether the reply may use them: what retrieval finds,
  whatever the reply makes of it (see :mod:`ezhr_graphql.evaluation.searching`).
- **Key phrase**: the share of answerable questions with a key phrase whose reply
  holds it.
- **Unsupported numbers**, over the answers (completed replies that are not
  refusals): stored, those whose grounding is UNSUPPORTED (and how many were not
  checked at all); quotes, those with a number none of their citations' quotes holds.
- **Endings**, over completed replies: LOOP and LENGTH finishes.
- **Refusals**: the share of unanswerable questions, and of answerable ones, whose
  reply is the no-answer message.
- **Time to first token**: p50 and p90 (nearest rank) of the run's own figure stored
  with the reply, and of the time from the send to the first delta as measured by
  the client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ezhr_graphql.evaluation.golden import GoldenQuestion
from ezhr_graphql.models import FinishReason, Grounding, MessageStatus

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one golden question got, and how it measures."""

    question: GoldenQuestion
    status: MessageStatus
    reply: str
    # The cited documents (file names), distinct, best first.
    cited: list[str]
    # Position in ``cited`` of the first expected source (from 1); None: not cited.
    rank: int | None
    refused: bool
    # The documents of the passages the search found (file names), distinct, best
    # first, and the position of the first expected source among them.
    searched: list[str] = field(default_factory=list)
    search_rank: int | None = None
    finish_reason: FinishReason | None = None
    grounding: Grounding | None = None
    unsupported_spans: list[str] = field(default_factory=list)
    unquoted_numbers: list[str] = field(default_factory=list)
    key_found: bool | None = None
    error: str | None = None
    ttft_server_ms: float | None = None
    ttft_client_ms: float | None = None

    @property
    def completed(self) -> bool:
        return self.status is MessageStatus.COMPLETED

    @property
    def answered(self) -> bool:
        """A completed reply that is not the no-answer message."""
        return self.completed and not self.refused

    def row(self) -> Row:
        q = self.question
        return {
            "line": q.line,
            "question": q.question,
            "source": q.source or None,
            "key": "|".join(q.keys) or None,
            "follow_up": q.follow_up,
            "status": self.status.value,
            "error": self.error,
            "finish_reason": None if self.finish_reason is None else self.finish_reason.value,
            "refused": self.refused,
            "rank": self.rank,
            "cited": self.cited,
            "search_rank": self.search_rank,
            "searched": self.searched,
            "key_found": self.key_found,
            "grounding": None if self.grounding is None else self.grounding.value,
            "unsupported_spans": self.unsupported_spans,
            "unquoted_numbers": self.unquoted_numbers,
            "ttft_server_ms": self.ttft_server_ms,
            "ttft_client_ms": None if self.ttft_client_ms is None else round(self.ttft_client_ms),
            "reply": self.reply,
        }


def share(count: float, total: int) -> float | None:
    return None if total == 0 else count / total


def ratio(count: int, total: int) -> Row:
    return {"count": count, "of": total, "share": share(count, total)}


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile (the smallest value with ``p``% at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def retrieval(outcomes: Iterable[Outcome], *, searched: bool = False) -> Row:
    """hit@1, hit@5 and MRR of the answerable questions, by the rank of the first
    expected source among the cited documents (``searched``: the documents found)."""
    ranked = [o.search_rank if searched else o.rank for o in outcomes if o.question.answerable]
    n = len(ranked)
    return {
        "questions": n,
        "hit_at_1": share(sum(r == 1 for r in ranked), n),
        "hit_at_5": share(sum(r is not None and r <= 5 for r in ranked), n),
        "mrr": share(sum(1 / r for r in ranked if r is not None), n),
    }


def by_source(outcomes: list[Outcome], *, searched: bool = False) -> dict[str, Row]:
    sources = dict.fromkeys(o.question.source for o in outcomes if o.question.answerable)
    return {
        s: retrieval((o for o in outcomes if o.question.source == s), searched=searched)
        for s in sources
    }


def _timing(values: list[float | None]) -> Row:
    present = [v for v in values if v is not None]
    p50, p90 = percentile(present, 50), percentile(present, 90)
    return {
        "replies": len(present),
        "p50": None if p50 is None else round(p50),
        "p90": None if p90 is None else round(p90),
    }


def _count(outcomes: Iterable[Outcome], test: Callable[[Outcome], bool]) -> int:
    return sum(1 for o in outcomes if test(o))


def summary(outcomes: list[Outcome]) -> Row:
    """Every figure of the evaluation, JSON-ready."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    keyed = [o for o in answerable if o.question.keys]
    answers = [o for o in outcomes if o.answered]
    completed = [o for o in outcomes if o.completed]
    loops = _count(completed, lambda o: o.finish_reason is FinishReason.LOOP)
    lengths = _count(completed, lambda o: o.finish_reason is FinishReason.LENGTH)
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "follow_ups": _count(outcomes, lambda o: o.question.follow_up),
        "retrieval": retrieval(outcomes),
        "retrieval_by_source": by_source(outcomes),
        "search": retrieval(outcomes, searched=True),
        "search_by_source": by_source(outcomes, searched=True),
        "key_phrase": ratio(_count(keyed, lambda o: bool(o.key_found)), len(keyed)),
        "unsupported_numbers": {
            "stored": ratio(
                _count(answers, lambda o: o.grounding is Grounding.UNSUPPORTED), len(answers)
            ),
            "stored_unchecked": _count(answers, lambda o: o.grounding is None),
            "quotes": ratio(_count(answers, lambda o: bool(o.unquoted_numbers)), len(answers)),
        },
        "endings": {
            "loop": ratio(loops, len(completed)),
            "length": ratio(lengths, len(completed)),
            "loop_or_length": ratio(loops + lengths, len(completed)),
        },
        "refusals": {
            "unanswerable": ratio(_count(unanswerable, lambda o: o.refused), len(unanswerable)),
            "answerable": ratio(_count(answerable, lambda o: o.refused), len(answerable)),
        },
        "failed": ratio(_count(outcomes, lambda o: not o.completed), len(outcomes)),
        "time_to_first_token_ms": {
            "server": _timing([o.ttft_server_ms for o in outcomes]),
            "client": _timing([o.ttft_client_ms for o in outcomes]),
        },
    }
