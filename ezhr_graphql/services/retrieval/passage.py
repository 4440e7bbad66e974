"""A passage retrieval hands to the answering side, and the citation it becomes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

QUOTE_LENGTH = 600
# How far over the agent's similarity threshold a passage's cosine must be for the
# embedding model to vouch for it (see Passage.clear).
CLEAR_MARGIN = 0.1
# Both legs agreeing on a passage lowers the bar its cosine must reach by this much:
# the keyword leg's best hit for the question, found by the vector leg too, holding
# at least ``AGREED_WORDS`` of the question's words (by rarity).
AGREED_MARGIN = 0.06
AGREED_WORDS = 0.4


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
    - ``semantic``: its cosine similarity when the vector leg returned it, else the
      most it can be (the lowest the vector leg returned, or 0): what the agent's
      similarity threshold is compared with before an answer uses the passage.
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
    semantic: float = 0.0

    def relevant(self, threshold: float) -> bool:
        """Whether an answer may use it: its cosine (or bound) reaches ``threshold``,
        or both legs agree on it (see :meth:`agreed`) and its cosine comes within
        ``AGREED_MARGIN`` of it."""
        if self.semantic >= threshold:
            return True
        return self.agreed and self.semantic >= threshold - AGREED_MARGIN

    @property
    def agreed(self) -> bool:
        """Both legs found it, the keyword leg ranking it first for the question, and it
        holds ``AGREED_WORDS`` of the question's words: an employee's paraphrase
        ("roll unused vacation over") scores a lower cosine with a small English
        embedder than the handbook's own words would, while the keyword leg and the
        words it shares still point at it."""
        return (
            self.vector_score is not None
            and self.keyword_score is not None
            and self.keyword_score >= 1.0
            and self.lexical_score >= AGREED_WORDS
        )

    def clear(self, threshold: float) -> bool:
        """Whether it is clearly about the question: its own cosine is ``CLEAR_MARGIN``
        over the threshold (a bound is not enough)."""
        return self.vector_score is not None and self.vector_score >= threshold + CLEAR_MARGIN

    @property
    def label(self) -> str:
        parts = [self.title, *self.heading_path]
        if self.page is not None:
            parts.append(f"page {self.page}")
        return " — ".join(p for p in parts if p)

    def citation(self, quoted: Sequence[str] = ()) -> dict[str, Any]:
        """The citation; its quote shows ``quoted`` (what the answer quotes of it)."""
        return {
            "documentId": str(self.document_id),
            "title": self.title,
            "heading": " > ".join(self.heading_path) or None,
            "page": self.page,
            "quote": self.excerpt(quoted),
            "score": round(self.score, 4),
        }

    def excerpt(self, quoted: Sequence[str] = ()) -> str:
        """``QUOTE_LENGTH`` characters of the text from its start, or, when what the
        answer quotes lies further on, from where the quoting starts (up to twice as
        long to hold all of it), after an ellipsis."""
        spans = [span for text in quoted if (span := _span(self.text, text)) is not None]
        end = max((b for _, b in spans), default=0)
        if end <= QUOTE_LENGTH:
            return self.text[:QUOTE_LENGTH]
        start = max(0, min(min(a for a, _ in spans), end - QUOTE_LENGTH))
        stop = min(max(end, start + QUOTE_LENGTH), start + 2 * QUOTE_LENGTH)
        return ("… " if start else "") + self.text[start:stop]


_WORD = re.compile(r"\w+")
# Words that find where a quote starts and ends in the text.
_ANCHOR_WORDS = 6


def _span(text: str, quote: str) -> tuple[int, int] | None:
    """Where ``quote`` (a sentence of ``text``, perhaps with its lines joined, its
    Markdown dropped or cut short with an ellipsis) lies in ``text``."""
    words = _WORD.findall(quote)
    if not words:
        return None
    head = re.search(r"\W+".join(map(re.escape, words[:_ANCHOR_WORDS])), text)
    if head is None:
        return None
    end = head.end()
    # The last words, fewer when Markdown (a link's address) lies between them.
    for n in (_ANCHOR_WORDS, 2, 1):
        tail = re.search(r"\W+".join(map(re.escape, words[-n:])), text[head.start() :])
        if tail is not None:
            end = max(end, head.start() + tail.end())
            break
    return head.start(), end
