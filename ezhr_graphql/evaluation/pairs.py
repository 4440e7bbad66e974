"""How well approved answers are matched: labelled pairs of questions (an approved
phrasing, a question asked, whether it is the same question), judged as a reply
would judge them (services/insights/similarity.py), with the local model's cosines.

A false match states the wrong policy; a miss falls back to the documents. So the
report leads with the false matches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.rag.embeddings import LOCAL_SPEC
from ezhr_graphql.services.insights.similarity import Question, same_question


@dataclass(frozen=True, slots=True)
class Pair:
    approved: str
    asked: str
    same: bool
    language: str


@dataclass
class PairReport:
    # By (language, same): how many pairs, and how many were matched.
    pairs: dict[tuple[str, bool], int] = field(default_factory=dict)
    matched: dict[tuple[str, bool], int] = field(default_factory=dict)
    false_matches: list[tuple[Pair, float]] = field(default_factory=list)

    def add(self, pair: Pair, matched: bool, cosine: float) -> None:
        key = (pair.language, pair.same)
        self.pairs[key] = self.pairs.get(key, 0) + 1
        self.matched[key] = self.matched.get(key, 0) + int(matched)
        if matched and not pair.same:
            self.false_matches.append((pair, cosine))

    def lines(self) -> list[str]:
        rows = [
            f"{language} {'same' if same else 'other'}: matched {self.matched[language, same]}"
            f" of {count}"
            for (language, same), count in sorted(self.pairs.items())
        ]
        rows += [
            f"FALSE MATCH ({c:.3f}): {p.approved!r} for {p.asked!r}" for p, c in self.false_matches
        ]
        return rows


def load(path: Path) -> list[Pair]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [Pair(r["approved"], r["asked"], bool(r["same"]), r["lang"]) for r in raw]


def evaluate(pairs: Sequence[Pair], models: ModelRegistry, min_cosine: float) -> PairReport:
    """Each pair judged as a reply judges an approved answer's phrasing (blocks:
    embeds every question with the local model)."""
    embedder = models.embedder(LOCAL_SPEC)
    report = PairReport()
    for pair in pairs:
        approved, asked = Question.of(pair.approved), Question.of(pair.asked)
        vectors = embedder.embed_documents([pair.approved, pair.asked])
        cosine = float(vectors[0] @ vectors[1])
        matched = approved.language == asked.language and same_question(
            asked, approved, cosine, min_cosine
        )
        report.add(pair, matched, cosine)
    return report
