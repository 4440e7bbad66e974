"""Word (.docx) uploads: paragraphs, heading styles, list items and tables, in order."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ezhr_graphql.rag.parsing.text import SectionBuilder, no_text, normalise, squeeze_spaces
from ezhr_graphql.rag.parsing.types import DocumentKind, ParsedDocument, ParseError, ParseErrorCode

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_MAX_DOCX_XML_BYTES = 200 * 1024 * 1024
_DOCX_HEADING_RE = re.compile(r"heading\s*([1-9])")
_DOCX_LIST_RE = re.compile(r"list")


def parse_docx(data: bytes) -> ParsedDocument:
    _check_docx_size(data)
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
        builder = SectionBuilder()
        title_paragraph: str | None = None
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for line in _docx_table_lines(block):
                    builder.add(line)
                builder.add("")
                continue
            text = squeeze_spaces(normalise(block.text))
            if not text:
                builder.add("")
                continue
            level = _docx_heading_level(block)
            if level == 0:
                title_paragraph = title_paragraph or text
            elif level is not None:
                builder.heading(level, text)
            else:
                builder.add(f"- {text}" if _docx_is_list(block) else text)
                builder.add("")
        builder.flush()
        core_title = squeeze_spaces(normalise(document.core_properties.title or ""))
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(
            ParseErrorCode.CORRUPT_FILE,
            "The Word document is damaged or not a valid .docx file.",
        ) from exc
    if not builder.sections:
        raise no_text("document")
    return ParsedDocument(
        kind=DocumentKind.DOCX,
        sections=builder.sections,
        title=core_title or title_paragraph or builder.first_heading,
        effective_date=None,
        tags=(),
        metadata={},
    )


def _check_docx_size(data: bytes) -> None:
    """Refuse archives that would inflate to an unreasonable size (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(
            ParseErrorCode.CORRUPT_FILE, "The Word document is damaged or truncated."
        ) from exc
    if inflated > _MAX_DOCX_XML_BYTES:
        raise ParseError(ParseErrorCode.CORRUPT_FILE, "The Word document is unreasonably large.")


def _docx_heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for a heading, 0 for the document's Title style, ``None`` for body text."""
    style: Any = paragraph.style
    for _ in range(10):  # follow "based on" a few steps: custom heading styles
        if style is None:
            break
        for name in (style.name or "", style.style_id or ""):
            lowered = name.strip().lower()
            if lowered == "title":
                return 0
            match = _DOCX_HEADING_RE.fullmatch(lowered)
            if match:
                return int(match.group(1))
        style = style.base_style
    ppr = paragraph._p.pPr
    outline = ppr.outlineLvl if ppr is not None else None
    if outline is not None and 0 <= outline.val < 9:
        return outline.val + 1
    return None


def _docx_is_list(paragraph: Paragraph) -> bool:
    style_name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if _DOCX_LIST_RE.search(style_name.lower()):
        return True
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _docx_table_lines(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        nested: list[Table] = []
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is reported once per grid column
                continue
            seen.add(id(cell._tc))
            parts = [squeeze_spaces(normalise(p.text)) for p in cell.paragraphs]
            cells.append(" ".join(part for part in parts if part))
            nested.extend(cell.tables)
        if any(cells):
            yield " | ".join(cells)
        for inner in nested:
            yield from _docx_table_lines(inner)
