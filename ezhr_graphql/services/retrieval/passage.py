"""A passage retrieval hands to the answering side, and the citation it becomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

QUOTE_LENGTH = 600


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk retrieved for a question, best first in the list it comes in.

    - ``score``: what passages are ranked and cited by, in [0, 1]; how relevant the
      passage is, from its words, both legs' ranks and its cosine similarity (see
      :mod:`~ezhr_graphql.services.retrieval.rerank`). The keyword leg finds some
      passage for almost any question, so a relevance floor belongs on this score:
      on the sample handbook and Vietnamese labour regulations, a best passage under
      about 0.5 to 0.55 meant a question the documents do not answer.
    - ``vector_score``: the passage's cosine similarity to the question, ``None`` when
      the vector leg did not find it (it may be under the agent's similarity threshold
      when the keyword leg found it).
    - ``keyword_score``: its keyword leg rank score over the best keyword hit's for
      this question, in (0, 1]; ``None`` when the keyword leg did not find it.
    - ``lexical_score``: how much of the question's words (weighted by rarity) the
      passage and its best sentence hold, in [0, 1]; 0 for a question of stop words.
    """

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    title: str
    heading_path: tuple[str, ...]
    page: int | None
    text: str
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None
    lexical_score: float = 0.0

    @property
    def label(self) -> str:
        parts = [self.title, *self.heading_path]
        if self.page is not None:
            parts.append(f"page {self.page}")
        return " — ".join(p for p in parts if p)

    def citation(self) -> dict[str, Any]:
        return {
            "documentId": str(self.document_id),
            "title": self.title,
            "heading": " > ".join(self.heading_path) or None,
            "page": self.page,
            "quote": self.text[:QUOTE_LENGTH],
            "score": round(self.score, 4),
        }
