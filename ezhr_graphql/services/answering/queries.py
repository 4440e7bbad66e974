"""What a question asks, as the words an answer must hold.

A follow-up ("and for part-timers?") names little on its own: without a language model
it is condensed by carrying the content words of the questions before it, at half
weight, so that retrieval finds the topic again and the answer still favours what the
follow-up itself asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ezhr_graphql.services.answering import sentences, text
from ezhr_graphql.services.answering.language import ENGLISH, detect_language

# Weight of a word carried from an earlier question.
CARRIED = 0.5
# A follow-up with fewer content words than this leans on the questions before it.
SELF_CONTAINED = 3
# How many earlier questions a follow-up may lean on.
EARLIER_QUESTIONS = 2
# Openings that refer back to the conversation, whatever follows.
_CONTINUATIONS = (
    "and ",
    "what about",
    "how about",
    "also",
    "but ",
    "same ",
    "còn ",
    "vậy ",
    "thế ",
    "thế còn",
    "và ",
)


@dataclass(frozen=True, slots=True)
class Query:
    """A question as weighted word keys (1: its own words; less: carried ones)."""

    # What retrieval is asked.
    text: str
    weights: dict[str, float]
    # Adjacent content words of the question itself: its phrases.
    phrases: frozenset[tuple[str, str]]
    # It asks how many, how much, how long or when.
    quantity: bool
    # The question's language (ENGLISH or VIETNAMESE).
    language: str = ENGLISH
    # Its runs of words as initials and keys: "bảo hiểm xã hội" is what "BHXH" says.
    runs: tuple[tuple[str, frozenset[str]], ...] = ()
    # Its numbers, each with the phrases it is part of ("tháng 13", "13 ngày").
    numbered: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.weights


def query(question: str, earlier: Sequence[str] = ()) -> Query:
    """The query of ``question``; ``earlier`` are the questions before it, oldest
    first, whose words a follow-up that leans on them carries."""
    own = text.content_keys(question)
    weights = _own_weights(question)
    carried: list[str] = []
    if earlier and leans_on_earlier(question, len(set(own))):
        for before in reversed(earlier[-EARLIER_QUESTIONS:]):
            carried.insert(0, before)
            for key in text.content_keys(before):
                weights.setdefault(key, CARRIED)
            if len(weights) >= SELF_CONTAINED + len(own):
                break
    return Query(
        text=" ".join([*carried, question, *text.documents_words(question)]),
        weights=weights,
        phrases=frozenset(text.pairs(own)),
        quantity=any(text.asks_quantity(q) for q in [question, *carried]),
        language=detect_language(question),
        runs=tuple(text.acronym_runs(question)),
        numbered=_numbered(own),
    )


def _numbered(keys: list[str]) -> dict[str, frozenset[tuple[str, str]]]:
    """Each number of the question with the pairs of words it is part of."""
    found: dict[str, set[tuple[str, str]]] = {}
    for pair in text.pairs(keys):
        for key in pair:
            if key.isdigit():
                found.setdefault(key, set()).add(pair)
    return {number: frozenset(pairs) for number, pairs in found.items()}


def _own_weights(question: str) -> dict[str, float]:
    """The question's words: those of its questions (the sentences that end with a
    question mark) in full, those of the statements around them ("My father passed
    away.") at the weight of carried words."""
    pieces = sentences.sentences(" ".join(question.split()))
    asked = [p for p in pieces if p.rstrip().endswith("?")]
    weights: dict[str, float] = {}
    for piece in pieces:
        weight = 1.0 if not asked or piece in asked else CARRIED
        for key in text.content_keys(piece):
            weights[key] = max(weight, weights.get(key, 0.0))
    return weights


def leans_on_earlier(question: str, own_words: int) -> bool:
    """Whether a follow-up needs the questions before it to be understood."""
    opening = question.strip().lower()
    return own_words < SELF_CONTAINED or opening.startswith(_CONTINUATIONS)
