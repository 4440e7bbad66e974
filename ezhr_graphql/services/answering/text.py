"""Words of English and Vietnamese text, as questions are matched with passages.

A word is a run of letters and digits. To match, it is lower-cased, stripped of its
accents (so a question typed without them still finds the words that carry them) and,
when English, cut to a crude stem ("hours", "hour"; "accrues", "accrue"). Function
words (of either language) are left out: what remains of a question is what it is about.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator

from ezhr_graphql.services.retrieval.terms import STOP_PHRASES, STOP_WORDS

WORD = re.compile(r"\w+")


def _listed(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Retrieval's stop words, and the syllables of "bao nhiêu" (how many), which say
# nothing alone (asks_quantity reads the phrase).
STOPWORDS = STOP_WORDS | {"bao", "nhiêu"}
# Runs of this many words are abbreviated by their initials ("BHXH", "NSDLĐ", "FMLA").
ACRONYM_WORDS = range(2, 7)

# Words that ask for an amount, a length or a date: sentences with numbers answer them.
_QUANTITY_CUES = re.compile(
    r"\b(how (many|much|long|often|soon)|what (percentage|percent|amount|date)"
    r"|(?:^|(?<=[.?!] ))when|bao nhiêu|bao lâu|mấy|khi nào|lúc nào)\b",
    re.IGNORECASE,
)
# Numbers written as words (of English; Vietnamese documents write digits, and its
# "một" and "năm" are also "a" and "year").
NUMBER_WORDS = _listed(
    """
    two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million half twice hai ba bốn sáu bảy tám chín mười
    """
)


# What a quantity is counted in.
_UNITS = _listed("year month week day hour minut business calendar pay")


# A few words of HR questions the documents name otherwise: each is matched as the
# documents' word (keys: accents stripped, stemmed), and retrieval is also asked for
# the documents' words.
_NAMED_OTHERWISE = {
    "vacation": ("annual", "annual leave"),
    "pto": ("annual", "annual leave"),
    "roll": ("carry", "carry over"),
    "boss": ("supervisor", "supervisor"),
    "manager": ("supervisor", "supervisor"),
    "quit": ("resign", "resign"),
    "resignation": ("resign", "resign"),
    "maternity": ("parental", "parental leave"),
    "paternity": ("parental", "parental leave"),
    "remot": ("telework", "telework"),
    "refund": ("reimburs", "reimbursement"),
}
SYNONYMS = {word: key for word, (key, _) in _NAMED_OTHERWISE.items()}


def documents_words(question: str) -> list[str]:
    """The documents' words for the words of ``question`` they name otherwise."""
    found = dict.fromkeys(
        _NAMED_OTHERWISE[stemmed][1]
        for word in words(question)
        if (stemmed := stem(fold(word))) in _NAMED_OTHERWISE
    )
    return list(found)


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased (NFC), in order."""
    return WORD.findall(unicodedata.normalize("NFC", text).lower())


def fold(word: str) -> str:
    """``word`` without accents: đ is d, every combining mark dropped."""
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A crude English stem: plural, -ing, -ed, -able and a final e cut, and a doubled
    final consonant made single ("travelling", "travels": "travel"; "reimbursable",
    "reimbursed": "reimburs"); other words as is."""
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    cut = ""
    for suffix in ("ing", "ed", "able", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= (4 if suffix == "able" else 3):
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word, cut = word[: -len(suffix)], suffix
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return _single_final(word, cut)


def _single_final(word: str, cut: str) -> str:
    """``word`` with a doubled final consonant made single: "ll" in any long word
    ("install", "installing"), others where a suffix was cut ("planned", "plan");
    never "ss" ("pass")."""
    if len(word) < 5 or word[-1] != word[-2] or word[-1] in "aeiousz":
        return word
    if word[-1] == "l" and len(word) <= 5:
        return word
    return word[:-1] if word[-1] == "l" or cut in ("ing", "ed") else word


def key(word: str) -> str:
    """What a (lower-cased) word is matched by."""
    stemmed = stem(fold(word))
    return SYNONYMS.get(stemmed, stemmed)


# "%", "percent" and "phần trăm" are one word.
_PERCENT = re.compile(r"%|\bphần trăm\b|\bpercentages?\b", re.IGNORECASE)
# Phrases that ask ("how long", "bao lâu") and say nothing of the topic.
_STOP_PHRASES = re.compile(
    "|".join(rf"\b{' '.join(phrase)}\b" for phrase in STOP_PHRASES), re.IGNORECASE
)


def content_keys(text: str, *, synonyms: bool = True) -> list[str]:
    """The keys of the words of ``text`` that are not function words, in order. A
    number is kept without its leading zeros ("08" and "8" match). ``synonyms=False``
    keeps each word's own stem ("maternity" and "paternity" stay apart)."""
    keys: list[str] = []
    plain = _PERCENT.sub(" percent ", unicodedata.normalize("NFC", text))
    for word in words(_STOP_PHRASES.sub(" ", plain)):
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            continue
        if word.isdigit():
            keys.append(word.lstrip("0") or "0")
        else:
            keys.append(key(word) if synonyms else stem(fold(word)))
    return keys


def asks_quantity(question: str) -> bool:
    """Whether ``question`` asks how many, how much, how long or when."""
    plain = " ".join(unicodedata.normalize("NFC", question).split())
    return _QUANTITY_CUES.search(plain) is not None


def has_number(sentence: str) -> bool:
    """Whether ``sentence`` gives a number, in digits or in words."""
    found = words(sentence)
    if any(w.isdigit() or w in NUMBER_WORDS for w in found):
        return True
    # "one" is a number before a unit ("one year of federal service"), else a pronoun.
    return any(a == "one" and stem(b) in _UNITS for a, b in itertools.pairwise(found))


def acronyms(text: str) -> set[str]:
    """The initials of every run of ``ACRONYM_WORDS`` words of ``text`` (accents
    stripped), of all its words and of its content words: what "BHXH" abbreviates
    ("bảo hiểm xã hội") or "FMLA" ("Family and Medical Leave Act")."""
    found: set[str] = set()
    every = [w for w in words(text) if not w.isdigit()]
    content = [w for w in every if w not in STOPWORDS]
    for sequence in (every, content):
        initials = "".join(fold(w)[0] for w in sequence)
        for n in ACRONYM_WORDS:
            found.update(initials[i : i + n] for i in range(len(initials) - n + 1))
    return found


def acronym_runs(text: str) -> list[tuple[str, frozenset[str]]]:
    """Each run of ``ACRONYM_WORDS`` words of ``text`` as its initials and the keys of
    its content words: a text holding the initials holds those keys."""
    every = [w for w in words(text) if not w.isdigit()]
    content = [w for w in every if w not in STOPWORDS]
    runs: list[tuple[str, frozenset[str]]] = []
    for sequence in (every, content):
        for n in ACRONYM_WORDS:
            for i in range(len(sequence) - n + 1):
                run = sequence[i : i + n]
                keys = frozenset(content_keys(" ".join(run)))
                if len(keys) >= 2:
                    runs.append(("".join(fold(w)[0] for w in run), keys))
    return runs


def looks_like_acronym(key: str) -> bool:
    """Whether a key may be initials: 2 to 6 letters, no vowel pattern needed."""
    return key.isalpha() and key.isascii() and min(ACRONYM_WORDS) <= len(key) <= max(ACRONYM_WORDS)


def pairs(keys: list[str]) -> Iterator[tuple[str, str]]:
    """Each key with the next: the phrases of a text."""
    return itertools.pairwise(keys)
