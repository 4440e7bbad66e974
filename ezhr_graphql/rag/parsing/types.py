"""The values parsing produces: document kinds, parse errors, sections and chunks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum


class DocumentKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    MARKDOWN = "markdown"
    TEXT = "text"
    HTML = "html"


class ParseErrorCode(StrEnum):
    EMPTY_FILE = "EMPTY_FILE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    CORRUPT_FILE = "CORRUPT_FILE"
    NO_TEXT_LAYER = "NO_TEXT_LAYER"


class ParseError(Exception):
    """A document that cannot be turned into text.

    ``code`` is one of :class:`ParseErrorCode` (a ``str``); ``reason`` is a short sentence
    that is safe to show an admin: it never carries paths, stack traces or document text.
    """

    code: str
    reason: str

    def __init__(self, code: ParseErrorCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Section:
    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None  # 1-based PDF page


@dataclass(frozen=True)
class ParsedDocument:
    kind: DocumentKind
    sections: list[Section]
    title: str | None
    effective_date: datetime.date | None
    tags: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True)
class Chunk:
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    ordinal: int
