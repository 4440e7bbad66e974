"""When two questions are the same question, and when they are alike.

The local embedding model reads English only: it scores any two Vietnamese questions
about alike ("nghỉ phép năm" and "nghỉ ốm", annual and sick leave, at 0.96). In
English it is a bag of words ("Does the employer pay for the employee's training?"
and its reverse: 0.998), and one word that changes the policy barely moves it
("... for submitting expense claims?" and "... for approving ...": 0.91). So:

- **An approved answer** is said for a question that is one of its phrasings in other
  clothes, judged on 120 labelled pairs of HR questions (bench/approved_matching.py):
  both say the same of what stop-word lists drop but a policy turns on (negation:
  "not", "không", "chưa"; time and amount: "before", "after", "more", "under",
  "trước"; whose case: "I" is not "she", a question naming nobody matches either),
  and then either they hold the same content words in the same order (each word's own
  stem: "maternity" is not "paternity"), or, in a language the model reads, each holds
  a content word the other lacks (a rewording, not a narrowing: "... for my family",
  "... for contractors" add a word and are other questions) and their cosine reaches
  ``min_cosine``. A miss falls back to the documents' answer; a false match states
  the wrong policy, so the bar is high.
- **Insights** group questions whose similarity (the cosine where the model reads the
  language, else the overlap of their content words, synonyms joined) reaches
  ``GROUP_SIMILARITY``: a group only shows HR what people ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ezhr_graphql.rag.embeddings import LOCAL_EMBEDDING_LANGUAGES
from ezhr_graphql.services.answering.language import detect_language
from ezhr_graphql.services.answering.text import content_keys, words

# Alike enough to be shown as one insight group.
GROUP_SIMILARITY = 0.75

# Words that change what a question asks while stop-word lists drop them ("n't" is
# the word "t").
_TURNING_WORDS = """
    not no never none nor t without except unless before after until since during
    under over above below more less fewer than least most only
    không chưa chẳng chớ đừng trước sau hơn dưới trên
"""
_TURNING = frozenset(_TURNING_WORDS.split())
# Who the question is about, by person.
_FIRST, _SECOND = "i me my mine myself we us our ours tôi mình", "you your yours yourself"
_THIRD = "he him his she her hers they them their theirs họ"
_PERSONS = {
    word: person
    for words_of, person in ((_FIRST, "first"), (_SECOND, "second"), (_THIRD, "third"))
    for word in words_of.split()
}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: str
    # Its content words' keys (synonyms joined), in order, each once: for grouping.
    order: tuple[str, ...]
    # Its content words' own stems, in order, each once: for approved answers.
    stems: tuple[str, ...]
    # Its words that turn what it asks (see _TURNING), and the persons it is about.
    turning: frozenset[str]
    persons: frozenset[str]

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
    said = words(text)
    return Question(
        text,
        language,
        tuple(dict.fromkeys(content_keys(text))),
        tuple(dict.fromkeys(content_keys(text, synonyms=False))),
        frozenset(w for w in said if w in _TURNING),
        frozenset(_PERSONS[w] for w in said if w in _PERSONS),
    )


def same_sense(a: Question, b: Question) -> bool:
    """Whether nothing stop words say sets them apart: the same turning words, and
    the same persons when both name some."""
    persons = a.persons == b.persons or not a.persons or not b.persons
    return a.language == b.language and a.turning == b.turning and persons


def same_words(a: Question, b: Question) -> bool:
    """The same content words in the same order (word forms, case, punctuation and
    stop words aside), saying the same of what stop words say."""
    return bool(a.stems) and a.stems == b.stems and same_sense(a, b)


def reworded(a: Question, b: Question) -> bool:
    """Each holds a content word the other lacks: one said otherwise, not narrowed
    ("... for contractors?") or widened by a word."""
    mine, theirs = set(a.stems), set(b.stems)
    return bool(mine - theirs) and bool(theirs - mine)


def overlap(a: Question, b: Question) -> float:
    """The Jaccard overlap of their content words, in [0, 1]."""
    if not a.keys or not b.keys:
        return 0.0
    return len(a.keys & b.keys) / len(a.keys | b.keys)


def same_question(a: Question, b: Question, cosine: float, min_cosine: float) -> bool:
    """Whether ``a`` asks what ``b`` asks, closely enough to give ``b``'s answer."""
    if not same_sense(a, b):
        return False
    if same_words(a, b):
        return True
    return a.readable and reworded(a, b) and cosine >= min_cosine


def alike(a: Question, b: Question, cosine: float) -> float:
    """How alike two questions are for grouping, in [0, 1]; 0 across languages."""
    if a.language != b.language:
        return 0.0
    if a.order and a.order == b.order:
        return 1.0
    return cosine if a.readable else overlap(a, b)


def cosines(vectors: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.float32]:
    """The cosine of each unit row of ``vectors`` with the unit vector ``query``."""
    if vectors.size == 0:
        return np.zeros(0, dtype=np.float32)
    result: NDArray[np.float32] = vectors @ query.reshape(-1)
    return result
