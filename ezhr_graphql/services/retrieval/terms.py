"""A question's words as search terms: what the keyword leg looks for, and what the
reranker compares passages with.

Words are cut as the databases' tokenisers cut them (SQLite's ``unicode61``: runs of
letters and digits, lower-cased, diacritics kept; Vietnamese separates syllables with
spaces, so each syllable is a word). Stop words of English and Vietnamese are left
out; numbers are kept. A word whose parts include a digit ("I-9", "SF-50", "401(k)",
"12.5") stays one term, matched as a phrase: form numbers and amounts are the exact
terms an employee types.

Nothing of the question reaches a query as syntax: the keyword leg passes each term as
a quoted FTS5 string or a bound parameter, and a term holds only letters, digits and
the separators inside one word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ezhr_graphql.repositories.keywords import KeywordTerm

# Read this much of a question; more is not a question but a pasted document.
MAX_QUESTION_CHARS = 2000
MAX_TERMS = 24
MAX_TERM_CHARS = 64

# Letters and digits (Unicode categories L and N), as unicode61 sees words.
TOKEN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")

# Words of a question that say nothing of what it is about (retrieval's and the
# extractive answer's: services/answering/text.py reads them from here).
_ENGLISH_WORDS = """
    a about above after again all also am an and any are as at be been before being
    below between both but by can could d did do does doing done down during each
    either else ever every few for from further get gets getting got had has have
    having he her here hers him his how i if in into is it its itself just know let
    like ll m many may me might mine more most much must my myself need no nor not now
    of off often on once one only or other our ours out over own per please re s same
    shall she should so some such t tell than that the their theirs them then there
    these they this those through to too under until up upon us ve very want was we
    were what whats when where whether which while who whom whose why will with would
    yes yet you your yours yourself
"""
ENGLISH_STOP_WORDS = frozenset(_ENGLISH_WORDS.split())
# Likewise in Vietnamese: pronouns, particles, question words, common verbs of asking.
_VIETNAMESE_WORDS = """
    à ạ ai anh ấy bạn bị bởi cả các cái cần chị cho chứ chúng chưa có còn của cũng đã
    đang đây để đến đó được em gì hãy hay hả hỏi hoặc khi không kia là lại mà mấy mình
    này nào nên nếu nhé những như nhưng ở ơi ra rằng rất rồi sao sẽ tại thế thì tôi
    trong từ và vào vậy về vì với xin ư
"""
VIETNAMESE_STOP_WORDS = frozenset(_VIETNAMESE_WORDS.split())
# Stop words of more than one syllable: "bao" and "lâu" mean something on their own.
# Phrases that ask how long, how often or how soon ("long" alone may mean something).
ENGLISH_STOP_PHRASES = (("how", "long"), ("how", "often"), ("how", "soon"))
VIETNAMESE_STOP_PHRASES = (
    ("như", "thế", "nào"),
    ("bao", "nhiêu"),
    ("bao", "lâu"),
    ("bao", "giờ"),
    ("thế", "nào"),
    ("là", "gì"),
    ("có", "phải"),
    ("ở", "đâu"),
)
STOP_WORDS = ENGLISH_STOP_WORDS | VIETNAMESE_STOP_WORDS
STOP_PHRASES = ENGLISH_STOP_PHRASES + VIETNAMESE_STOP_PHRASES


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """What a question searches for.

    ``terms``: the keyword leg's terms, most useful first (as they come). ``pairs``:
    neighbouring words of the question, both kept (a passage holding one as written
    is likely about the same thing: "annual leave", "nghỉ phép").
    """

    terms: tuple[KeywordTerm, ...]
    pairs: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.terms)

    @property
    def search(self) -> tuple[KeywordTerm, ...]:
        """What the keyword leg looks for: the terms, and each Vietnamese syllable
        also as written with its tone mark on the other vowel ("thoả", "thỏa")."""
        variants = []
        for term in self.terms:
            if len(term.tokens) == 1 and (other := other_tone_placement(term.text)) != term.text:
                variants.append(KeywordTerm(other, (other,)))
        return self.terms + tuple(variants)


# Vietnamese writes a tone on a final "oa", "oe" or "uy" in two styles, both in use:
# on the first vowel ("hòa", "thỏa", "qúy") or on the second ("hoà", "thoả", "quý").
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_FIRST_VOWEL_TONE = re.compile(f"(?i)(o|u)([{_TONES}])(a|e|y)(?![^\\W{_TONES}])")
_SECOND_VOWEL_TONE = re.compile(f"(?i)(o|u)(a|e|y)([{_TONES}])(?![^\\W{_TONES}])")
_CLUSTERS = frozenset({"oa", "oe", "uy"})


def _moved(match: re.Match[str], first: bool) -> str:
    if first:  # o + tone + a
        vowel, tone, second = match.groups()
    else:
        vowel, second, tone = match.groups()
    if (vowel + second).lower() not in _CLUSTERS:
        return match.group()
    return vowel + second + tone if first else vowel + tone + second


def canonical_tones(text: str) -> str:
    """``text`` with every such tone on the second vowel (NFC), so that both styles
    compare equal."""
    if text.isascii():  # no tone mark to move, and NFC already: most passages
        return text
    decomposed = unicodedata.normalize("NFD", text)
    moved = _FIRST_VOWEL_TONE.sub(lambda m: _moved(m, True), decomposed)
    return unicodedata.normalize("NFC", moved)


def other_tone_placement(word: str) -> str:
    """``word`` with the tone of its final "oa", "oe" or "uy" on the other vowel;
    ``word`` itself when it has none."""
    decomposed = unicodedata.normalize("NFD", word)
    moved = _FIRST_VOWEL_TONE.sub(lambda m: _moved(m, True), decomposed)
    if moved == decomposed:
        moved = _SECOND_VOWEL_TONE.sub(lambda m: _moved(m, False), decomposed)
    return unicodedata.normalize("NFC", moved)


def tokens(text: str) -> list[str]:
    """``text``'s words, lower-cased, in order (NFC is the caller's: stored text is)."""
    return TOKEN.findall(text.lower())


@dataclass(frozen=True, slots=True)
class _Word:
    tokens: tuple[str, ...]
    text: str  # as typed, trimmed to its first and last letter or digit, lower-cased

    @property
    def compound(self) -> bool:
        return len(self.tokens) > 1 and any(c.isdigit() for t in self.tokens for c in t)


def _words(question: str) -> list[_Word]:
    found: list[_Word] = []
    for raw in _SPACE.split(question):
        parts = [m for m in TOKEN.finditer(raw.lower())]
        if not parts:
            continue
        typed = raw.lower()[parts[0].start() : parts[-1].end()]
        # Control and format characters are no part of what the databases read.
        typed = "".join(c for c in typed if unicodedata.category(c)[0] != "C")
        word = _Word(tuple(m.group() for m in parts), typed)
        if word.compound and len(word.text) <= MAX_TERM_CHARS:
            found.append(word)
        else:  # "part-time", "employee's": each part a word
            found.extend(_Word((m.group(),), m.group()) for m in parts)
    return found


def _stopped(words: list[_Word]) -> list[bool]:
    """Per word, whether it is a stop word (alone or in a stop phrase)."""
    stop = [not w.compound and w.tokens[0] in STOP_WORDS for w in words]
    plain = [w.tokens[0] if not w.compound else "" for w in words]
    for phrase in STOP_PHRASES:
        n = len(phrase)
        for i in range(len(plain) - n + 1):
            if tuple(plain[i : i + n]) == phrase:
                stop[i : i + n] = [True] * n
    return stop


def query_terms(question: str) -> QueryTerms:
    """The terms and word pairs of ``question``; empty when it has no word worth
    searching for (only stop words, punctuation, emoji, or nothing)."""
    text = unicodedata.normalize("NFC", question[:MAX_QUESTION_CHARS])
    words = _words(text)
    stop = _stopped(words)
    terms: dict[str, KeywordTerm] = {}
    pairs: dict[tuple[str, str], None] = {}
    for i, word in enumerate(words):
        if stop[i] or len(word.text) > MAX_TERM_CHARS:
            continue
        terms.setdefault(word.text, KeywordTerm(word.text, word.tokens))
        if i and not stop[i - 1] and not word.compound and not words[i - 1].compound:
            pairs[(words[i - 1].tokens[0], word.tokens[0])] = None
    return QueryTerms(tuple(terms.values())[:MAX_TERMS], tuple(pairs))


def has_digit(term: KeywordTerm) -> bool:
    return any(c.isdigit() for c in term.text)
