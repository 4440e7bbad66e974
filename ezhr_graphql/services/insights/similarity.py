"""When two questions are the same question, and when they are alike.

**An approved answer** is said for a question that is one of its phrasings in other
dress only: the same words in the same order once case, punctuation, word forms
("days", "day"), where a Vietnamese tone mark sits ("thỏa", "thoả"), articles, the
auxiliaries of a question ("do", "is") and politeness ("please tell me", "cho tôi
hỏi") are set aside. Nothing else is dropped: "can" is
not "must", "in" not "out", "he" not "she", "3" not "5", "từ" not "đến". The local
embedding model cannot tell these apart (bench/approved_matching.py): it is a bag of
words that scores "minimum" and "maximum notice period" 0.94, "opt in" and "opt out"
0.90, and any two Vietnamese questions about alike. A miss falls back to the
documents' answer; a false match states the wrong policy. So the ways people ask go
in as phrasings (an insight group's examples are exactly that).

**Insights** group questions whose similarity (the cosine where the model reads the
language, else the overlap of their content words, synonyms joined) reaches
``GROUP_SIMILARITY``: a group only shows HR what people ask, and a loose one costs
nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ezhr_graphql.rag.embeddings import LOCAL_EMBEDDING_LANGUAGES
from ezhr_graphql.services.answering.language import detect_language
from ezhr_graphql.services.answering.text import content_keys, stem, words
from ezhr_graphql.services.retrieval.terms import canonical_tones

# Alike enough to be shown as one insight group.
GROUP_SIMILARITY = 0.75

# Words that change nothing a policy turns on: articles, the auxiliaries a question is
# built with, greetings and politeness (English, then Vietnamese particles).
_EMPTY_WORDS = """
    a an the do does did is are am was were be please kindly hi hello hey thanks
    ạ à nhé nhỉ vậy ơi
"""
_EMPTY = frozenset(_EMPTY_WORDS.split())
# Politeness a question may open with.
_OPENING = re.compile(
    r"^(?:(?:please|kindly|hi|hello|hey)\W+)*"
    r"(?:(?:can|could|would)\s+you\s+(?:please\s+)?tell\s+me|please\s+tell\s+me|tell\s+me"
    r"|i\s+(?:would\s+like|want)\s+to\s+know|cho\s+(?:tôi\s+|em\s+|mình\s+)?hỏi"
    r"|xin\s+(?:cho\s+)?hỏi)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: str
    # Its words as an approved answer's phrasing is compared with (see above).
    said: tuple[str, ...]
    # Its content words' keys (synonyms joined), in order, each once: for grouping.
    order: tuple[str, ...]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.order)

    @classmethod
    def of(cls, text: str, language: str | None = None) -> Question:
        return _question(text, language or detect_language(text))

    @property
    def readable(self) -> bool:
        """Whether the local embedding model's cosines mean something for it."""
        return self.language in LOCAL_EMBEDDING_LANGUAGES


@lru_cache(maxsize=4096)
def _question(text: str, language: str) -> Question:
    plain = _OPENING.sub("", canonical_tones(unicodedata.normalize("NFC", text)).strip())
    said = tuple(stem(w) for w in words(plain) if w not in _EMPTY)
    return Question(text, language, said, tuple(dict.fromkeys(content_keys(text))))


def same_question(a: Question, b: Question) -> bool:
    """Whether ``a`` asks what ``b`` asks, closely enough to give ``b``'s answer."""
    return a.language == b.language and bool(a.said) and a.said == b.said


def overlap(a: Question, b: Question) -> float:
    """The Jaccard overlap of their content words, in [0, 1]."""
    if not a.keys or not b.keys:
        return 0.0
    return len(a.keys & b.keys) / len(a.keys | b.keys)


def alike(a: Question, b: Question, cosine: float) -> float:
    """How alike two questions are for grouping, in [0, 1]; 0 across languages."""
    if a.language != b.language:
        return 0.0
    if a.order and a.order == b.order:
        return 1.0
    return cosine if a.readable else overlap(a, b)
