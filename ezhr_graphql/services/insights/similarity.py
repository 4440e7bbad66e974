"""When two questions are the same question, and when they are alike.

The local embedding model reads English only: it scores any two Vietnamese questions
about alike ("nghỉ phép năm" and "nghỉ ốm", annual and sick leave, at 0.96). And even
in English one word may change the policy asked about while the cosine stays high
("How many days of annual leave do I get?" and "... do contractors get?": 0.80).
So questions are compared by their content words first (the keys the extractive
answer matches words by: stems, synonyms, diacritics folded) and by the cosine only
where the model reads the language, with a bar set for each use:

- an approved answer is said for a question with the same content words as one of its
  phrasings, or, in a language the model reads, a cosine of at least ``min_cosine``
  (high: a wrong policy is worse than the documents' own answer);
- insights group questions whose similarity (the cosine where the model reads the
  language, else the overlap of their content words) reaches ``GROUP_SIMILARITY``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ezhr_graphql.rag.embeddings import LOCAL_EMBEDDING_LANGUAGES
from ezhr_graphql.services.answering.language import detect_language
from ezhr_graphql.services.answering.text import content_keys

# Alike enough to be shown as one insight group.
GROUP_SIMILARITY = 0.75


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: str
    keys: frozenset[str]

    @classmethod
    def of(cls, text: str, language: str | None = None) -> Question:
        return cls(text, language or detect_language(text), frozenset(content_keys(text)))

    @property
    def readable(self) -> bool:
        """Whether the local embedding model's cosines mean something for it."""
        return self.language in LOCAL_EMBEDDING_LANGUAGES


def same_words(a: Question, b: Question) -> bool:
    return a.language == b.language and bool(a.keys) and a.keys == b.keys


def overlap(a: Question, b: Question) -> float:
    """The Jaccard overlap of their content words, in [0, 1]."""
    if not a.keys or not b.keys:
        return 0.0
    return len(a.keys & b.keys) / len(a.keys | b.keys)


def same_question(a: Question, b: Question, cosine: float, min_cosine: float) -> bool:
    """Whether ``a`` asks what ``b`` asks, closely enough to give ``b``'s answer."""
    if a.language != b.language:
        return False
    return same_words(a, b) or (a.readable and cosine >= min_cosine)


def alike(a: Question, b: Question, cosine: float) -> float:
    """How alike two questions are for grouping, in [0, 1]; 0 across languages."""
    if a.language != b.language:
        return 0.0
    if same_words(a, b):
        return 1.0
    return cosine if a.readable else overlap(a, b)


def cosines(vectors: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.float32]:
    """The cosine of each unit row of ``vectors`` with the unit vector ``query``."""
    if vectors.size == 0:
        return np.zeros(0, dtype=np.float32)
    result: NDArray[np.float32] = vectors @ query.reshape(-1)
    return result
