"""How well approved answers are matched: labelled pairs of questions (an approved
phrasing, a question asked, whether it is the same question), judged as a reply
would judge them (services/insights/similarity.py), beside the local model's cosine
at a threshold, for comparison.

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
class Tally:
    """By (language, same): how many pairs, and how many a rule matched."""

    pairs: dict[tuple[str, bool], int] = field(default_factory=dict)
    matched: dict[tuple[str, bool], int] = field(default_factory=dict)
    false_matches: list[Pair] = field(default_factory=list)

    def add(self, pair: Pair, matched: bool) -> None:
        key = (pair.language, pair.same)
        self.pairs[key] = self.pairs.get(key, 0) + 1
        self.matched[key] = self.matched.get(key, 0) + int(matched)
        if matched and not pair.same:
            self.false_matches.append(pair)

    def lines(self, name: str) -> list[str]:
        rows = [
            f"{name}: {language} {'rewordings' if same else 'different questions'} matched"
            f" {self.matched[language, same]} of {count}"
            for (language, same), count in sorted(self.pairs.items())
        ]
        return rows + [f"  false match: {p.approved!r} for {p.asked!r}" for p in self.false_matches]


def load(path: Path) -> list[Pair]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [Pair(r["approved"], r["asked"], bool(r["same"]), r["lang"]) for r in raw]


def judge(pairs: Sequence[Pair]) -> Tally:
    """Each pair judged as a reply judges an approved answer's phrasing."""
    tally = Tally()
    for pair in pairs:
        asked, approved = Question.of(pair.asked), Question.of(pair.approved)
        tally.add(pair, same_question(asked, approved))
    return tally


def by_cosine(pairs: Sequence[Pair], models: ModelRegistry, threshold: float) -> Tally:
    """Each pair judged by the local model's cosine alone (blocks: embeds them all)."""
    embedder = models.embedder(LOCAL_SPEC)
    tally = Tally()
    for pair in pairs:
        vectors = embedder.embed_documents([pair.approved, pair.asked])
        tally.add(pair, float(vectors[0] @ vectors[1]) >= threshold)
    return tally
