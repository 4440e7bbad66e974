"""Text clean-up shared by every format, the section builder, and plain-text uploads.

``normalise`` makes extracted text uniform (NFC, Unix newlines, no invisible characters);
``SectionBuilder`` turns a stream of headings and body lines into :class:`Section` values.
"""

from __future__ import annotations

import re
import unicodedata

from ezhr_graphql.rag.parsing.types import (
    DocumentKind,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
    Section,
)

_NEWLINES_RE = re.compile("\r\n?|[\f\v\x85\u2028\u2029]")
_SPACES_RE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Control characters (but tab and newline), soft hyphens, zero-width spaces, word
# joiners, byte-order marks, lone surrogates and private-use glyphs (icon-font bullets).
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff\ud800-\udfff"
    "\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_LIGATURE_RE = re.compile("[\ufb00-\ufb04]")


def normalise(text: str) -> str:
    """NFC, Unix newlines, plain spaces; no control, zero-width or private-use characters."""
    text = unicodedata.normalize("NFC", text)
    text = _NEWLINES_RE.sub("\n", text)
    text = _INVISIBLE_RE.sub("", text)
    if not text.isascii():
        text = _SPACES_RE.sub(" ", text)
        text = _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group(0)], text)
    return text


def tidy(text: str) -> str:
    """Strip trailing spaces from lines, squeeze runs of blank lines, trim the ends."""
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n").rstrip()


def squeeze_spaces(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


class SectionBuilder:
    """Collects body text and cuts a new :class:`Section` at every heading."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.first_heading: str | None = None
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        text = squeeze_spaces(text)
        if not text:
            return
        self.flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        if self.first_heading is None:
            self.first_heading = text

    def add(self, text: str) -> None:
        self._lines.append(text)

    def flush(self) -> None:
        body = tidy("\n".join(self._lines))
        self._lines = []
        if body.strip():
            path = tuple(text for _, text in self._stack)
            self.sections.append(Section(text=body, heading_path=path))


def no_text(kind: str) -> ParseError:
    return ParseError(ParseErrorCode.EMPTY_FILE, f"The {kind} contains no readable text.")


def parse_text(text: str) -> ParsedDocument:
    body = tidy(normalise(text))
    if not body.strip():
        raise no_text("file")
    return ParsedDocument(
        kind=DocumentKind.TEXT,
        sections=[Section(text=body)],
        title=None,
        effective_date=None,
        tags=(),
        metadata={},
    )
