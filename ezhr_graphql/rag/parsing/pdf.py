"""PDF uploads: one section per page, running headers and footers removed.

There is no OCR: a PDF without a text layer is refused with ``NO_TEXT_LAYER``.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
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


_NUMBER_RE = re.compile(r"\d+")


def _page_key(line: str) -> str:
    return _NUMBER_RE.sub("#", line).strip().lower()


def _edges(lines: list[str], edge: int = 3) -> set[int]:
    """Where the first and last ``edge`` lines with text are."""
    filled = [i for i, line in enumerate(lines) if line]
    return set(filled[:edge] + filled[-edge:])


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove running headers and footers.

    A line runs when it sits at the top or bottom edge of most pages (at least 3, and
    60 % of them) and is the same line on each, or differs only in its page number: one
    number that goes up from page to page ("Trang 1", "Trang 2", "Trang 14" in an
    excerpt), any other number staying put ("Page 3 of 9"). Comparing lines with their
    digits blanked out, as this once did, also took "Employees with 1 years of service get
    12 days" and "... 2 years ... 14 days" for a header and stripped a document's only
    text. A line on one page only never runs.
    """
    if len(pages) < 3:
        return pages
    exact, counted = _running_keys(pages)
    if not (exact or counted):
        return pages
    cleaned = [_strip_page(lines, exact, counted) for lines in pages]
    # Running lines frame the text; they are never all of it. When nothing would be left
    # (the same sentence on every page), the guess was wrong, and a PDF with text must not
    # be turned away as a scan.
    if not any(any(lines) for lines in cleaned):
        return pages
    return cleaned


def _running_keys(pages: list[list[str]]) -> tuple[set[str], set[str]]:
    """Keys of the lines that run word for word, and of those with a page number."""
    found: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for number, lines in enumerate(pages):
        for i in _edges(lines):
            found[_page_key(lines[i])].append((number, _numbers(lines[i])))
    threshold = max(3, (len(pages) * 3 + 4) // 5)
    exact: set[str] = set()
    counted: set[str] = set()
    for key, seen in found.items():
        if len({number for number, _ in seen}) < threshold:
            continue
        if len({tuple(numbers) for _, numbers in seen}) == 1:
            exact.add(key)
        elif _is_page_number(seen):
            counted.add(key)
    return exact, counted


def _numbers(line: str) -> list[int]:
    return [int(digits) for digits in _NUMBER_RE.findall(line)]


def _is_page_number(seen: list[tuple[int, list[int]]]) -> bool:
    """Whether lines sharing a key, seen as (page index, the line's numbers) in page
    order, differ in one number only, and that number goes up from page to page."""
    if len({len(numbers) for _, numbers in seen}) != 1:
        return False  # "No. #1" and "No. ##" share the key "no. ##"
    fields = list(zip(*(numbers for _, numbers in seen), strict=True))
    varying = [values for values in fields if len(set(values)) > 1]
    if len(varying) != 1:
        return False
    pairs = [(page, value) for (page, _), value in zip(seen, varying[0], strict=True)]
    for (last_page, last), (page, value) in pairwise(pairs):
        if value != last if page == last_page else value <= last:
            return False
    return True


def _strip_page(lines: list[str], exact: set[str], counted: set[str]) -> list[str]:
    keys = {i: _page_key(lines[i]) for i in _edges(lines)}
    word_for_word = {i for i, key in keys.items() if key in exact}
    numbered = {i for i, key in keys.items() if key in counted}
    kept = [line for i, line in enumerate(lines) if i not in word_for_word | numbered]
    if any(kept) or not numbered:
        return kept
    # A line whose number changes from page to page, left as its page's only text, may be
    # what the page says ("Employees with 3 years of service get ...") rather than its
    # number: keep it. At worst a blank page keeps its page number.
    return [line for i, line in enumerate(lines) if i not in word_for_word]


def _reflow(lines: Sequence[str]) -> list[str]:
    """Join lines the PDF wrapped mid-sentence (next line starts in lower case)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1] and line and line[0].islower() and not out[-1].endswith(_SENTENCE_END):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out
