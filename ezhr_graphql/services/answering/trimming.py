"""Passages cut to what matters to the question, for a small model's short prompt.

A local model on a CPU reads its prompt at a few hundred tokens a second: four whole
passages cost seconds before the first word. Each passage is cut to its sentences
that share the most words with the question (each word weighted as the question weighs
it), kept in their order, within a word budget; a passage within the budget is kept
whole.
"""

from __future__ import annotations

from ezhr_graphql.services.answering import sentences, text
from ezhr_graphql.services.answering.queries import Query

PASSAGE_WORDS = 60


def trimmed(query: Query, passage: str, budget: int = PASSAGE_WORDS) -> str:
    """The sentences of ``passage`` that matter to ``query``, in order, within
    ``budget`` words (the best one at least)."""
    if len(passage.split()) <= budget:
        return passage
    units = sentences.units(passage)
    gain = {
        unit.position: sum(query.weights.get(k, 0.0) for k in set(text.content_keys(unit.text)))
        for unit in units
    }
    kept: set[int] = set()
    used = 0
    for unit in sorted(units, key=lambda u: (-gain[u.position], u.position)):
        length = len(unit.text.split())
        if kept and (used + length > budget or gain[unit.position] == 0):
            continue
        kept.add(unit.position)
        used += length
    return " ".join(u.text for u in units if u.position in kept)
