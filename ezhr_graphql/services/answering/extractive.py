"""Extractive answers: the sentences of the passages that answer, quoted, each with
the marker of its passage. No model is asked, so nothing is said that the documents do
not say, apart from a fixed lead-in in the question's language.

Every sentence (or list item) of the passages is scored against the question:

    w(t)      = ln(1 + N / (1 + df(t))) * q(t)   (* 1.5 for a number)
    coverage  = (sum of w(t) of the question's words in the sentence
                 + 0.5 * sum of w(t) of those only in its heading or list lead-in)
                / sum of w(t) of all the question's words
    score     = (coverage + 0.2 * phrases + 0.1 * [a quantity asked, a number given])
                / (1 + 0.15 * rank of its passage)

where N is the number of sentences in the passages, df(t) how many of them hold the
word t (a word the passages rarely use says more), q(t) 1 for the question's own words
and 0.5 for those a follow-up carries, and ``phrases`` the share of the question's
adjacent word pairs the sentence holds in the same order. The answer starts from the
best sentence that covers at least ``FLOOR`` of the question (``CLEAR_FLOOR`` in a
passage the embedding model finds clearly about it); without one there is no answer:
the nearest sentence to a question the documents do not answer is not an answer. A few
more sentences join it when they score at least ``KEEP_RATIO`` of its score and
cover ``SECOND_FLOOR``, within ``MAX_QUOTES`` quotes and ``MAX_WORDS`` words. They are
quoted passage by passage, in the retrieval's order (the citations'), each in its
place in the passage, so that the answer reads as the documents do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ezhr_graphql.services.answering import sentences, text
from ezhr_graphql.services.answering.language import VIETNAMESE
from ezhr_graphql.services.answering.queries import Query

FLOOR = 0.35
CLEAR_FLOOR = 0.2
KEEP_RATIO = 0.6
MAX_QUOTES = 4
# Items of a list quoted with the line that introduces it.
MAX_ITEMS = 6
MAX_WORDS = 110
# A sentence longer than this is quoted as its best window of WINDOW_WORDS words.
LONG_UNIT_WORDS = 60
WINDOW_WORDS = 45
# A unit shorter than this (a heading, a bare list item) is no answer on its own.
MIN_WORDS = 3
CONTEXT_WEIGHT = 0.5
PHRASE_WEIGHT = 0.2
# Vietnamese words are mostly two syllables: this share of its coverage is the share of
# the question's syllable pairs held as written ("tiền ăn trưa" is not "ăn tiền").
COMPOUND_SHARE = 0.5
# "How many days?" is not answered by a sentence without a number.
NO_NUMBER_FACTOR = 0.5
RANK_DECAY = 0.15
NUMBER_WEIGHT = 1.5

K = TypeVar("K")

LEAD_IN = {"en": "According to the documents:", VIETNAMESE: "Theo tài liệu:"}


class Source(Protocol):
    """A passage as retrieval gives it."""

    @property
    def text(self) -> str: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Quote:
    passage: int  # index among the passages given
    position: int  # place among the passage's units
    text: str


@dataclass(frozen=True, slots=True)
class Extract:
    """The quotes of an answer; ``cited`` are the indexes of the passages they come
    from, in citation order (marker ``[n]`` is ``cited[n - 1]``)."""

    quotes: list[Quote]
    cited: list[int]

    def marker(self, quote: Quote) -> int:
        return self.cited.index(quote.passage) + 1


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage: int
    unit: sentences.Unit
    keys: list[str]
    coverage: float
    score: float


def extract(
    query: Query, passages: Sequence[Source], clear: Collection[int] = ()
) -> Extract | None:
    """The sentences of ``passages`` that answer ``query``; ``None`` when none covers
    enough of it. ``clear``: the passages the embedding model finds clearly about the
    question, whose sentences need cover only ``CLEAR_FLOOR`` of it (an employee's
    words are not always the handbook's: "when my baby is born", "birth")."""
    if query.empty or not passages:
        return None
    split = [sentences.units(p.text) for p in passages]
    candidates = _scored(query, passages, split)
    if not candidates:
        return None
    # The best unit that covers its own passage's floor: a clear passage's sentence
    # answers even when a unit of a less certain passage scored higher without.
    at = next(
        (
            i
            for i, c in enumerate(candidates)
            if c.coverage >= (CLEAR_FLOOR if c.passage in clear else FLOOR)
        ),
        None,
    )
    if at is None:
        return None
    ordered = [candidates[at], *candidates[:at], *candidates[at + 1 :]]
    quotes = [Quote(c.passage, c.unit.position, _quoted(c, query)) for c in _chosen(ordered, split)]
    quotes.sort(key=lambda q: (q.passage, q.position))
    cited = sorted({q.passage for q in quotes})
    return Extract(quotes, cited)


def render(answer: Extract, language: str) -> str:
    """The reply: the lead-in, then each quote with its marker, one a line."""
    lines = [LEAD_IN.get(language, LEAD_IN["en"])]
    lines.extend(f"- “{q.text}” [{answer.marker(q)}]" for q in answer.quotes)
    return "\n".join(lines)


def _scored(
    query: Query, passages: Sequence[Source], split: list[list[sentences.Unit]]
) -> list[_Candidate]:
    """Every unit long enough to answer, best first."""
    keyed = [[text.content_keys(u.text) for u in units] for units in split]
    held = [
        [_held(query, u.text, keys) for u, keys in zip(units, unit_keys, strict=True)]
        for units, unit_keys in zip(split, keyed, strict=True)
    ]
    weight = _weights(query, [h for unit_held in held for h in unit_held])
    total = sum(weight.values())
    pair_weight = {(a, b): weight[a] + weight[b] for a, b in query.phrases}
    compound = COMPOUND_SHARE if query.language == VIETNAMESE and pair_weight else 0.0
    found: list[_Candidate] = []
    for rank, (passage, units) in enumerate(zip(passages, split, strict=True)):
        heading_keys = text.content_keys(passage.label)
        heading = _held(query, passage.label, heading_keys)
        for unit, keys, unit_held in zip(units, keyed[rank], held[rank], strict=True):
            if len(text.words(unit.text)) < MIN_WORDS:
                continue
            context, context_keys = heading, heading_keys
            if unit.lead is not None:
                context = heading | held[rank][unit.lead]
                context_keys = [*heading_keys, *keyed[rank][unit.lead]]
            coverage = _coverage(weight, unit_held, context) / total
            if compound:
                pairs = _pairs_held(query, keys, unit_held)
                around = _pairs_held(query, context_keys, context) - pairs
                share = _coverage(pair_weight, pairs, around) / sum(pair_weight.values())
                coverage = (1 - compound) * coverage + compound * share
            if query.quantity and not text.has_number(unit.text):
                coverage *= NO_NUMBER_FACTOR
            score = coverage + PHRASE_WEIGHT * _phrases(query, keys)
            found.append(_Candidate(rank, unit, keys, coverage, score / (1 + RANK_DECAY * rank)))
    found.sort(key=lambda c: c.score, reverse=True)
    return found


def _held(query: Query, unit: str, keys: list[str]) -> set[str]:
    """The unit's keys, with those it abbreviates or spells out: a unit saying "sổ
    BHXH" holds the question's "bảo hiểm xã hội", and the other way round. A number
    of the question counts only beside a word it has beside it in the question: "tháng
    13" is not "Điều 13"."""
    held = set(keys)
    if query.numbered:
        adjacent = set(text.pairs(keys))
        for number, pairs in query.numbered.items():
            if number in held and not adjacent & pairs:
                held.discard(number)
    for initials, run in query.runs:
        if initials in held:
            held |= run
    wanted = [k for k in query.weights if k not in held and text.looks_like_acronym(k)]
    if wanted:
        initials_of_unit = text.acronyms(unit)
        held.update(k for k in wanted if k in initials_of_unit)
    return held


def _pairs_held(query: Query, keys: list[str], held: set[str]) -> set[tuple[str, str]]:
    """The question's word pairs a unit holds: next to each other, or both within
    what one of its abbreviations spells out."""
    found = set(query.phrases & set(text.pairs(keys)))
    for initials, run in query.runs:
        if initials in held:
            found |= {pair for pair in query.phrases if run.issuperset(pair)}
    return found


def _weights(query: Query, unit_keys: Sequence[set[str]]) -> dict[str, float]:
    """Each word of the query weighted by its rarity among the passages' units."""
    df: Counter[str] = Counter()
    for keys in unit_keys:
        df.update(keys & query.weights.keys())
    n = len(unit_keys)
    return {
        key: math.log(1 + n / (1 + df[key])) * q * (NUMBER_WEIGHT if key.isdigit() else 1.0)
        for key, q in query.weights.items()
    }


def _coverage(weight: Mapping[K, float], keys: AbstractSet[K], context: AbstractSet[K]) -> float:
    direct = sum(w for key, w in weight.items() if key in keys)
    indirect = sum(w for key, w in weight.items() if key in context and key not in keys)
    return direct + CONTEXT_WEIGHT * indirect


def _phrases(query: Query, keys: list[str]) -> float:
    if not query.phrases:
        return 0.0
    return len(query.phrases & set(text.pairs(keys))) / len(query.phrases)


class _Selection:
    """Units chosen to quote within ``MAX_WORDS``, each once."""

    def __init__(self, split: list[list[sentences.Unit]]) -> None:
        self.split = split
        self.units: list[_Candidate] = []
        self.taken: set[tuple[int, int]] = set()
        self.seen: set[str] = set()
        self.used = 0

    def add(self, candidate: _Candidate) -> bool:
        """Add ``candidate`` if the budget allows (``True`` when it is in)."""
        key = (candidate.passage, candidate.unit.position)
        if key in self.taken:
            return True
        length = min(_length(candidate), WINDOW_WORDS)
        normal = _normal(candidate.unit.text)
        if self.used + length > MAX_WORDS or normal in self.seen:
            return False
        self.units.append(candidate)
        self.taken.add(key)
        self.seen.add(normal)
        self.used += length
        return True

    def add_unit(self, passage: int, position: int) -> bool:
        unit = self.split[passage][position]
        if len(unit.text.split()) > LONG_UNIT_WORDS:
            return False
        return self.add(_Candidate(passage, unit, text.content_keys(unit.text), 0.0, 0.0))

    def with_lead(self, candidate: _Candidate) -> None:
        """``candidate`` and, when it is a list item, the line that introduced its list
        ("4 hours per pay period" says little without it)."""
        if self.add(candidate) and candidate.unit.lead is not None:
            self.add_unit(candidate.passage, candidate.unit.lead)


def _chosen(candidates: list[_Candidate], split: list[list[sentences.Unit]]) -> list[_Candidate]:
    """The best unit with its list, when it introduces one or is an item of one ("you
    will need to submit the following paperwork:" says nothing without the items),
    then the units close to it with their leads, within the budget."""
    best = candidates[0]
    selection = _Selection(split)
    selection.with_lead(best)
    heads = best.unit.lead if best.unit.lead is not None else best.unit.position
    items = [u.position for u in split[best.passage] if u.lead == heads]
    for position in items[:MAX_ITEMS]:
        if not selection.add_unit(best.passage, position):
            break
    companions = 0
    for candidate in candidates[1:]:
        if companions == MAX_QUOTES - 1:
            break
        if (
            candidate.coverage < KEEP_RATIO * best.coverage
            or candidate.score < KEEP_RATIO * best.score
        ):
            continue
        if (candidate.passage, candidate.unit.position) in selection.taken:
            continue
        before = len(selection.units)
        selection.with_lead(candidate)
        companions += len(selection.units) > before
    return selection.units


def _quoted(candidate: _Candidate, query: Query) -> str:
    """The unit as quoted: whole, or its best window when it is long."""
    tokens = candidate.unit.text.split()
    if len(tokens) <= LONG_UNIT_WORDS:
        return candidate.unit.text
    # The question's words; and when it asks how many, the numbers (its answer).
    number = max(query.weights.values(), default=1.0) if query.quantity else 0.0
    gains = [
        sum(query.weights.get(k, 0.0) for k in text.content_keys(t))
        + (number if text.has_number(t) else 0.0)
        for t in tokens
    ]
    starts = range(len(tokens) - WINDOW_WORDS + 1)
    start = max(starts, key=lambda s: sum(gains[s : s + WINDOW_WORDS]))
    end = start + WINDOW_WORDS
    window = " ".join(tokens[start:end])
    return ("… " if start else "") + window + (" …" if end < len(tokens) else "")


def _length(candidate: _Candidate) -> int:
    return len(candidate.unit.text.split())


def _normal(sentence: str) -> str:
    return " ".join(text.words(sentence))
