"""PDF uploads: one section per page, running headers and footers removed.

There is no OCR: a PDF without a text layer is refused with ``NO_TEXT_LAYER``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ezhr_graphql.rag.parsing.text import normalise, squeeze_spaces, tidy
from ezhr_graphql.rag.parsing.types import (
    DocumentKind,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
    Section,
)

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader

_VNI_PAIR_RE = re.compile(r"[AEIOUYaeiouy][ÂâÙùØøÛûÕõÏïÄäÅåÊêËëÜüÖö]")
_TCVN3_RE = re.compile(r"[A-Za-z][\u00a2-\u00be]|[\u00a2-\u00be][A-Za-z]")
_SENTENCE_END = tuple(".!?:;…")


def parse_pdf(data: bytes) -> ParsedDocument:
    reader, pages = _open(data)
    page_lines, failures = _page_lines(pages)
    page_lines = _drop_running_lines(page_lines)
    sections = [
        Section(text=text, page=number)
        for number, lines in enumerate(page_lines, start=1)
        if (text := tidy("\n".join(_reflow(lines))))
    ]
    if not sections:
        if failures:
            raise ParseError(
                ParseErrorCode.CORRUPT_FILE, "The text of the PDF could not be extracted."
            )
        raise ParseError(
            ParseErrorCode.NO_TEXT_LAYER,
            "The PDF has no text layer (it looks scanned); upload a searchable PDF.",
        )
    return ParsedDocument(
        kind=DocumentKind.PDF,
        sections=sections,
        title=_pdf_title(reader),
        effective_date=None,
        tags=(),
        metadata={},
    )


def _open(data: bytes) -> tuple[PdfReader, list[PageObject]]:
    """The reader and its pages; decrypted when the PDF opens without a password."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise ParseError(
                    ParseErrorCode.CORRUPT_FILE,
                    "The PDF is encrypted with a method that cannot be opened.",
                ) from exc
            if opened == PasswordType.NOT_DECRYPTED:
                raise ParseError(
                    ParseErrorCode.CORRUPT_FILE,
                    "The PDF is password-protected; upload a copy without a password.",
                )
        pages = list(reader.pages)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(
            ParseErrorCode.CORRUPT_FILE, "The PDF is damaged or truncated and cannot be read."
        ) from exc
    return reader, pages


def _page_lines(pages: list[PageObject]) -> tuple[list[list[str]], int]:
    """Each page's text as lines, and how many pages failed to give theirs."""
    page_lines: list[list[str]] = []
    failures = 0
    for page in pages:
        try:
            raw = page.extract_text() or ""
        except Exception:
            failures += 1
            raw = ""
        page_lines.append([squeeze_spaces(line) for line in normalise(raw).split("\n")])
    return page_lines, failures


def _pdf_title(reader: Any) -> str | None:
    try:
        info = reader.metadata
        raw = info.title if info is not None else None
    except Exception:
        return None
    if not isinstance(raw, str):
        return None
    title = squeeze_spaces(normalise(raw))
    title = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", title)
    title = re.sub(r"\.(?:docx?|pptx?|odt|rtf)$", "", title, flags=re.I)
    if not title or title.lower() in {"untitled", "title", "document"}:
        return None
    # Titles typed in legacy Vietnamese encodings (VNI, TCVN3) come out as mojibake such
    # as "UÛY BAN NHAÂN DAÂN": worse than no title.
    if len(_VNI_PAIR_RE.findall(title)) >= 2 or len(_TCVN3_RE.findall(title)) >= 2:
        return None
    return title


def _page_key(line: str) -> str:
    return re.sub(r"\d+", "#", line).strip().lower()


def _drop_running_lines(pages: list[list[str]], edge: int = 3) -> list[list[str]]:
    """Remove running headers and footers: edge lines repeated on most pages, page
    numbers compared as ``#`` (so "Trang 3" and "Trang 4" match)."""
    if len(pages) < 3:
        return pages

    def edges(lines: list[str]) -> list[int]:
        filled = [i for i, line in enumerate(lines) if line]
        return filled[:edge] + filled[-edge:]

    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_page_key(lines[i]) for i in edges(lines)})
    threshold = max(3, (len(pages) * 3 + 4) // 5)
    running = {key for key, count in counts.items() if count >= threshold}
    if not running:
        return pages
    cleaned: list[list[str]] = []
    for lines in pages:
        drop = {i for i in edges(lines) if _page_key(lines[i]) in running}
        cleaned.append([line for i, line in enumerate(lines) if i not in drop])
    return cleaned


def _reflow(lines: Sequence[str]) -> list[str]:
    """Join lines the PDF wrapped mid-sentence (next line starts in lower case)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1] and line and line[0].islower() and not out[-1].endswith(_SENTENCE_END):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out
