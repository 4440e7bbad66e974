"""Numbers in a reply that no cited passage holds.

Every number, amount, percentage and date of a generated reply must be in a passage it
cites. Both sides are read into values first, so that the same number written another
way still matches:

- an amount is its value: "$400,000", "400000", "400.000" (Vietnamese thousands) and
  "400 000" are 400000; "1.5 million" is 1500000; "08" is 8; a currency sign or word
  changes nothing;
- a percentage is a value and a mark: "20%", "20 %", "20 percent", "20 per cent" and
  "20 phần trăm" are 20%; only a percentage supports a percentage;
- English number words count: "four hours" is 4 hours (not "one": it is a pronoun as
  often as a number);
- a date is (year, month, day) in any of its usual spellings: "2024-07-01",
  "1/7/2024" (day first, or month first: either reading), "July 1, 2024",
  "1 July 2024", "ngày 1 tháng 7 năm 2024"; a date without a year matches any year.

A plain number is supported by the same value anywhere in the passages (as an amount,
in a percentage or in a date); the numbers of the question count as supported too (the
employee said them). Markers ``[n]`` are not numbers of the reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"  # noqa: E501
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATES = [
    ("ymd", re.compile(r"(?<![\w.,])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w])")),
    ("dmy", re.compile(r"(?<![\w.,])(\d{1,2}) ?[/.-] ?(\d{1,2}) ?[/.-] ?(\d{4}|\d{2})(?![\w])")),
    ("mdy", re.compile(rf"\b{_MONTH} (\d{{1,2}}){_ORDINAL},? (\d{{4}})\b", re.IGNORECASE)),
    ("dmy_name", re.compile(rf"\b(\d{{1,2}}){_ORDINAL} (?:of )?{_MONTH},? (\d{{4}})\b", re.I)),
    ("md", re.compile(rf"\b{_MONTH} (\d{{1,2}}){_ORDINAL}\b", re.IGNORECASE)),
    (
        "vi",
        re.compile(r"ngày (\d{1,2}) tháng (\d{1,2})(?: năm (\d{4}))?", re.IGNORECASE),
    ),
]
_AMOUNT = re.compile(
    r"(?<![\w.,])(?:[$€£₫] ?)?(\d{1,3}(?:([.,])\d{3})(?:\2\d{3})*|\d+)([.,]\d+)?"
    r"(?:st|nd|rd|th)?"
    r"(?: ?(%|percent\b|per cent\b|phần trăm)"
    r"| ?(thousand|million|billion|nghìn|ngàn|triệu|tỷ|tỉ)\b)?(?![\w])",
    re.IGNORECASE,
)
_SCALES = {
    "thousand": 1000,
    "nghìn": 1000,
    "ngàn": 1000,
    "million": 10**6,
    "triệu": 10**6,
    "billion": 10**9,
    "tỷ": 10**9,
    "tỉ": 10**9,
}
_UNITS = ["two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORD_VALUES = {
    **{w: i + 2 for i, w in enumerate(_UNITS)},
    **{w: i + 10 for i, w in enumerate(_TEENS)},
    **{w: (i + 2) * 10 for i, w in enumerate(_TENS)},
}
_NUMBER_WORD = re.compile(
    rf"\b({'|'.join(_TENS)})[- ]({'|'.join(['one', *_UNITS])})\b"
    rf"|\b({'|'.join(_WORD_VALUES)})\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")

Date = tuple[int | None, int, int]


@dataclass(frozen=True, slots=True)
class Mention:
    """A number as written (``span``) and what it means."""

    span: str
    value: Decimal | None = None
    percent: bool = False
    # The readings of a date, (year or None, month, day).
    dates: frozenset[Date] = frozenset()
    # The numbers a date is written with, for a passage that writes them otherwise.
    parts: tuple[Decimal, ...] = ()


@dataclass(frozen=True, slots=True)
class Support:
    """What the passages (and the question) hold."""

    values: frozenset[Decimal]
    percents: frozenset[Decimal]
    dates: frozenset[Date]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Support:
        values: set[Decimal] = set()
        percents: set[Decimal] = set()
        dates: set[Date] = set()
        for text in texts:
            for mention in mentions(text, raw_scales=True):
                values.update(mention.parts)
                if mention.value is not None:
                    values.add(mention.value)
                    if mention.percent:
                        percents.add(mention.value)
                dates.update(mention.dates)
        return cls(frozenset(values), frozenset(percents), frozenset(dates))

    def holds(self, mention: Mention) -> bool:
        if mention.dates:
            return any(_same_date(d, known) for d in mention.dates for known in self.dates) or (
                all(p in self.values for p in mention.parts)
            )
        if mention.value is None:
            return True
        pool = self.percents if mention.percent else self.values
        return mention.value in pool


def unsupported(reply: str, sources: Iterable[str]) -> list[str]:
    """The numbers of ``reply`` no text of ``sources`` holds, as written, each once."""
    support = Support.of(sources)
    found: list[str] = []
    for mention in mentions(reply):
        if not support.holds(mention) and mention.span not in found:
            found.append(mention.span)
    return found


def mentions(text: str, *, raw_scales: bool = False) -> Iterator[Mention]:
    """The dates, amounts, percentages and number words of ``text``, in order.
    ``raw_scales``: "1.5 million" also yields 1.5 (a passage's number, as a reply
    may quote it)."""
    text = _MARKER.sub(" ", text)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Mention]] = []
    for kind, pattern in _DATES:
        for match in pattern.finditer(text):
            if _overlaps(match.span(), taken):
                continue
            taken.append(match.span())
            found.append((match.start(), _date(kind, match)))
    for match in _AMOUNT.finditer(text):
        if not _overlaps(match.span(), taken):
            found.extend((match.start(), m) for m in _amounts(match, raw_scales))
    for match in _NUMBER_WORD.finditer(text):
        found.append((match.start(), Mention(match.group(0), _word_value(match))))
    found.sort(key=lambda pair: pair[0])
    return (mention for _, mention in found)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def _date(kind: str, match: re.Match[str]) -> Mention:
    groups = match.groups()
    if kind == "ymd":
        y, m, d = (int(g) for g in groups)
        readings: set[Date] = {(y, m, d)}
    elif kind == "dmy":
        a, b, y = int(groups[0]), int(groups[1]), _year(groups[2])
        readings = {(y, b, a), (y, a, b)}
    elif kind == "mdy":
        readings = {(int(groups[2]), MONTHS[groups[0].lower()], int(groups[1]))}
    elif kind == "dmy_name":
        readings = {(int(groups[2]), MONTHS[groups[1].lower()], int(groups[0]))}
    elif kind == "md":
        readings = {(None, MONTHS[groups[0].lower()], int(groups[1]))}
    else:  # vi
        year = None if groups[2] is None else int(groups[2])
        readings = {(year, int(groups[1]), int(groups[0]))}
    valid = frozenset(r for r in readings if 1 <= r[1] <= 12 and 1 <= r[2] <= 31)
    parts = tuple(Decimal(g) for g in groups if g is not None and g.isdigit())
    return Mention(match.group(0), dates=valid, parts=parts)


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) == 2 else year


def _same_date(a: Date, b: Date) -> bool:
    return a[1:] == b[1:] and (a[0] is None or b[0] is None or a[0] == b[0])


def _amounts(match: re.Match[str], raw_scales: bool) -> list[Mention]:
    whole, separator, fraction, percent, scale = match.groups()
    digits = whole if separator is None else whole.replace(separator, "")
    try:
        value = Decimal(digits + ("." + fraction[1:] if fraction else ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return []
    span = match.group(0).strip()
    if scale:
        scaled = Mention(span, _normal(value * _SCALES[scale.lower()]))
        return [scaled, Mention(span, _normal(value))] if raw_scales else [scaled]
    return [Mention(span, _normal(value), percent=percent is not None)]


def _word_value(match: re.Match[str]) -> Decimal:
    if match.group(3):
        return Decimal(_WORD_VALUES[match.group(3).lower()])
    tens = _WORD_VALUES[match.group(1).lower()]
    unit = match.group(2).lower()
    return Decimal(tens + (1 if unit == "one" else _WORD_VALUES[unit]))


def _normal(value: Decimal) -> Decimal:
    """One form per value: 08, 8.0 and 8 are all 8."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal
