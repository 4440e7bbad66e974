"""How well a passage's words answer a question's: the reranker's lexical relevance.

Each term of the question is weighted by how rare it is among the n candidates (its
document frequency ``df`` counts the candidates whose title, headings or text hold it),
a number more:

    weight(t) = ln(1 + n / (df(t) + 0.5)) * (NUMBER_WEIGHT if t holds a digit)
    coverage  = weight of the terms the passage holds / weight of all the terms
    sentence  = the best sentence's 0.75 * its coverage + 0.25 * the share of the
                question's word pairs ("annual leave", "nghỉ phép") it holds as
                written (its coverage alone when the question has no pair)
    lexical   = 0.6 * coverage + 0.4 * sentence

Words are cut as the keyword index cuts them, with Vietnamese tones written one way
("thỏa" is "thoả"); a term of several parts ("i-9") is held where its parts follow
each other. A passage is read once, as sentences of words, and
compared with the question by set operations.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ezhr_graphql.services.retrieval.terms import TOKEN, QueryTerms, canonical_tones, has_digit

NUMBER_WEIGHT = 1.5
PASSAGE, SENTENCE = 0.6, 0.4
SENTENCE_TERMS, SENTENCE_PAIRS = 0.75, 0.25
# Where a sentence ends: . ! ? ; or : before a space, or a new line.
_SENTENCE_END = re.compile(r"[.!?;:](?=\s)|\n")


def sentences(text: str) -> list[list[str]]:
    """``text``'s sentences as lists of lower-case words (cut at each end, then into
    words by the C regex engine: a passage is read once per question)."""
    found: list[list[str]] = []
    for part in _SENTENCE_END.split(canonical_tones(text.lower())):
        words = TOKEN.findall(part)
        if words:
            found.append(words)
    return found


@dataclass(frozen=True, slots=True)
class _Question:
    """Terms by their only word, terms of several words, every word wanted, pairs."""

    single: dict[str, int]
    compound: list[tuple[int, tuple[str, ...], str]]
    wanted: frozenset[str]
    pairs: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, question: QueryTerms) -> _Question:
        single: dict[str, int] = {}
        compound: list[tuple[int, tuple[str, ...], str]] = []
        for i, term in enumerate(question.terms):
            tokens = tuple(canonical_tones(t) for t in term.tokens)
            if len(tokens) == 1:
                single.setdefault(tokens[0], i)
            else:
                compound.append((i, tokens, f" {' '.join(tokens)} "))
        wanted = frozenset(single) | {t for _, tokens, _ in compound for t in tokens}
        pairs = {(canonical_tones(a), canonical_tones(b)) for a, b in question.pairs}
        return cls(single, compound, wanted, frozenset(pairs))

    def terms_in(self, words: Sequence[str], found: frozenset[str]) -> set[int]:
        """The terms ``words`` hold; ``found`` is the wanted words among them."""
        held = {self.single[w] for w in found if w in self.single}
        for i, tokens, joined in self.compound:
            if found.issuperset(tokens) and joined in f" {' '.join(words)} ":
                held.add(i)
        return held


@dataclass(slots=True)
class _Found:
    """The terms a passage holds, and per sentence holding any: its terms and how
    many of the question's pairs it holds."""

    terms: set[int] = field(default_factory=set)
    sentences: list[tuple[set[int], int]] = field(default_factory=list)


def _find(question: _Question, head: str, text: str) -> _Found:
    head_words = TOKEN.findall(canonical_tones(head.lower()))
    found = _Found(question.terms_in(head_words, question.wanted.intersection(head_words)))
    for sentence in sentences(text):
        wanted = question.wanted.intersection(sentence)
        if not wanted:
            continue
        terms = question.terms_in(sentence, wanted)
        pairs = 0
        if question.pairs and len(wanted) > 1:
            pairs = len(question.pairs.intersection(itertools.pairwise(sentence)))
        found.sentences.append((terms, pairs))
        found.terms |= terms
    return found


def lexical_scores(question: QueryTerms, passages: Sequence[tuple[str, str]]) -> list[float]:
    """Each passage's lexical relevance to the question in [0, 1], for passages given
    as (title and headings, text); all 0 when the question has no terms."""
    if not question.terms or not passages:
        return [0.0] * len(passages)
    compiled = _Question.of(question)
    found = [_find(compiled, head, text) for head, text in passages]
    n = len(found)
    weights = []
    for i, term in enumerate(question.terms):
        df = sum(1 for f in found if i in f.terms)
        weights.append(math.log(1 + n / (df + 0.5)) * (NUMBER_WEIGHT if has_digit(term) else 1))
    total = sum(weights)
    scores = []
    for f in found:
        best = 0.0
        for terms, pairs in f.sentences:
            held = sum(weights[i] for i in terms) / total
            if compiled.pairs:
                held = SENTENCE_TERMS * held + SENTENCE_PAIRS * pairs / len(compiled.pairs)
            best = max(best, held)
        scores.append(PASSAGE * sum(weights[i] for i in f.terms) / total + SENTENCE * best)
    return scores
