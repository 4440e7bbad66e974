"""Passages cut into the units an answer quotes: sentences, and the items of lists.

Chunks come from Markdown (links, emphasis, bullets), from PDFs (lines wrapped in the
middle of a sentence) and from plain text, in English or Vietnamese. A unit is one
sentence of a paragraph, or one list item; a line that ends without punctuation and is
followed by one that starts in lower case is a wrapped line, joined to the next. An item
remembers the line that introduced its list (the one ending with a colon): it says what
the item is about ("Annual leave accrues ...:" before "Fewer than 3 years: 4 hours").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Markdown that is not words: [text](link) keeps the text; emphasis, code marks and
# backslash escapes go.
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!=|>~])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# A list item: a bullet, "1.", "3.5.", "a)", "(b)", "+ ", with what follows.
_ITEM = re.compile(r"^\s*(?:[-*•+\u2013]|\(?\d+(?:\.\d+)*[.)]|\(?[a-zđ][.)])\s+", re.IGNORECASE)
# Where a sentence may end: terminal punctuation, closing quotes or brackets, space.
_END = re.compile("[.!?…]+[\"'\u201d\u2019)\\]]*\\s+")
# Before these a full stop ends no sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "mr",
        "mrs",
        "ms",
        "dr",
        "no",
        "nos",
        "vs",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
        "u.s",
        "art",
        "sec",
        "approx",
        "fig",
    ]
)
# "Điều 3. Thời giờ làm việc": a numbered heading, not two sentences.
_NUMBERED = re.compile(
    r"(?:điều|khoản|chương|mục|article|section|chapter|part)\s+[\dIVXLC]+$", re.IGNORECASE
)
_NUMBERED_START = re.compile(
    r"(?:điều|khoản|chương|mục|article|section|chapter|part)\s+[\dIVXLC]+\b", re.IGNORECASE
)
_CLOSES = (".", ":", ";", "!", "?", "…")
# A sentence that announces the list after it without ending in a colon.
_ANNOUNCES = re.compile(r"\b(the following|as follows|sau đây|như sau)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence or list item of a passage, as it is quoted."""

    text: str
    # Its place among the passage's units, for quoting in the passage's order.
    position: int
    # The position of the unit that introduced its list, when it is a list item.
    lead: int | None = None


def clean(text: str) -> str:
    """``text`` without Markdown's marks (links keep their words)."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    return _ESCAPE.sub(r"\1", text)


def units(text: str) -> list[Unit]:
    """The sentences and list items of a passage, in order."""
    found: list[Unit] = []
    lead: int | None = None
    for line, is_item in _lines(clean(text)):
        pieces = sentences(line)
        if not pieces:
            continue
        first = len(found)
        for piece in pieces:
            found.append(Unit(piece, len(found), lead if is_item else None))
        if line.endswith(":"):
            lead = len(found) - 1
        elif not is_item:  # "... submit the following paperwork. Note: ..." then the list
            announcing = [i for i, piece in enumerate(pieces) if _ANNOUNCES.search(piece)]
            lead = first + announcing[-1] if announcing else None
    return found


def _lines(text: str) -> list[tuple[str, bool]]:
    """Logical lines (wrapped lines joined), each without its list marker, and whether
    it is a list item."""
    logical: list[tuple[str, bool]] = []
    for raw in text.splitlines():
        stripped = _HEADING.sub("", raw).strip()
        if not stripped:
            logical.append(("", False))
            continue
        marker = _ITEM.match(stripped)
        body = stripped[marker.end() :].strip() if marker else stripped
        previous = logical[-1][0] if logical else ""
        if marker is None and previous and _wraps(previous, body):
            logical[-1] = (f"{previous} {body}", logical[-1][1])
        else:
            logical.append((body, marker is not None))
    return [(line, item) for line, item in logical if line]


def _wraps(previous: str, line: str) -> bool:
    """Whether ``line`` continues ``previous`` (a line wrapped mid-sentence): the
    previous one did not end a sentence, and neither is a heading."""
    return not previous.endswith(_CLOSES) and not _heading(previous) and not _heading(line)


def _heading(line: str) -> bool:
    """A line in capitals, or one that opens a numbered article or chapter."""
    return line.isupper() or _NUMBERED_START.match(line) is not None


def sentences(line: str) -> list[str]:
    """The sentences of one line."""
    found: list[str] = []
    start = 0
    for match in _END.finditer(line):
        following = line[match.end() : match.end() + 1]
        if not following or not (
            following.isupper() or following.isdigit() or following in "“\"'("
        ):
            continue
        before = line[start : match.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if last in _ABBREVIATIONS or _NUMBERED.search(line[start : match.start()]):
            continue
        found.append(line[start : match.end()].strip())
        start = match.end()
    rest = line[start:].strip()
    if rest:
        found.append(rest)
    return [s for s in found if s]
