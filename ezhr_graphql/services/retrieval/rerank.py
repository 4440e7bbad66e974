"""Fusing the vector and keyword legs, then reranking their candidates.

**Fusion** is reciprocal rank fusion over each leg's list (ranks from 1, after the
similarity threshold for the vector leg):

    fused = sum over legs of 1 / (RRF_K + rank)

divided by what first place in every leg that found anything would give, so in (0, 1].

**Lexical relevance** (:mod:`~ezhr_graphql.services.retrieval.lexical`), in [0, 1]:
how much of the question's words, weighted by how rare they are among the candidates
and a number more, the passage holds, and its best sentence with the question's word
pairs as written.

**The score** a passage is ranked and cited by, in [0, 1]:

    score = 0.5 * lexical + 0.2 * fused + 0.3 * semantic   (the question has terms)
    score = 0.4 * fused + 0.6 * semantic                   (only stop words)

where ``semantic`` is the passage's cosine similarity (0 under 0). For a passage only
the keyword leg found it is the lowest cosine the vector leg returned when it returned
a full pool (the passage's own is at most that), else 0: with an embedding model that
tells a language's passages apart poorly, every candidate's cosine is about the same,
and the words decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ezhr_graphql.services.retrieval.lexical import lexical_scores
from ezhr_graphql.services.retrieval.passage import Passage
from ezhr_graphql.services.retrieval.terms import QueryTerms

RRF_K = 60
LEXICAL, FUSED, SEMANTIC = 0.5, 0.2, 0.3
# Without terms to compare: the fused rank and the cosine only.
FUSED_ALONE, SEMANTIC_ALONE = 0.4, 0.6


@dataclass(slots=True)
class Candidate:
    """A chunk either leg found, with its rank (from 1) and score in each."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    title: str
    heading_path: tuple[str, ...]
    page: int | None
    text: str
    vector_rank: int | None = None
    vector_score: float | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    # What the cosine similarity is at most when the vector leg did not return it.
    cosine_bound: float = 0.0

    def fused(self) -> float:
        ranks = (self.vector_rank, self.keyword_rank)
        return sum(1 / (RRF_K + rank) for rank in ranks if rank is not None)


def rerank(question: QueryTerms, candidates: Sequence[Candidate], k: int) -> list[Passage]:
    """The ``k`` best candidates as passages, best first."""
    legs = sum(
        1
        for found in (
            any(c.vector_rank is not None for c in candidates),
            any(c.keyword_rank is not None for c in candidates),
        )
        if found
    )
    if not legs:
        return []
    best_fused = legs / (RRF_K + 1)
    scored: list[tuple[float, float, int, Candidate, tuple[float, float]]] = []
    lexical_of = lexical_scores(
        question, [(" ".join((c.title, *c.heading_path)), c.text) for c in candidates]
    )
    for order, (candidate, lexical) in enumerate(zip(candidates, lexical_of, strict=True)):
        fused = candidate.fused() / best_fused
        cosine = candidate.vector_score
        semantic = min(1.0, max(0.0, candidate.cosine_bound if cosine is None else cosine))
        if question.terms:
            score = LEXICAL * lexical + FUSED * fused + SEMANTIC * semantic
        else:
            score = FUSED_ALONE * fused + SEMANTIC_ALONE * semantic
        scored.append((min(1.0, score), fused, -order, candidate, (lexical, semantic)))
    scored.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
    return [_passage(c, score, *found) for score, _, _, c, found in scored[:k]]


def _passage(candidate: Candidate, score: float, lexical: float, semantic: float) -> Passage:
    return Passage(
        chunk_id=candidate.chunk_id,
        document_id=candidate.document_id,
        title=candidate.title,
        heading_path=candidate.heading_path,
        page=candidate.page,
        text=candidate.text,
        score=score,
        vector_score=candidate.vector_score,
        keyword_score=candidate.keyword_score,
        lexical_score=lexical,
        semantic=semantic,
    )
