"""Turn an uploaded HR document into clean, structured text and cut it into chunks.

Everything here is synchronous and pure (bytes in, values out; no I/O, no logging), so the
ingestion job can run it in a worker thread. The type of a document is decided by its
content, never by its name: an upload's extension is only a hint for telling Markdown
from plain text when the content could be either.

``parse_document`` returns :class:`ParsedDocument` whose sections follow the document's
structure (a PDF page, or the text under one heading); ``chunk_document`` cuts each
section on its own with LlamaIndex's ``SentenceSplitter``, so a chunk never spans two
headings or two pages and keeps its section's heading path and page as metadata.

One module per format (``markdown``, ``html``, ``docx``, ``pdf``; plain text in ``text``),
with ``detect`` for telling them apart, ``sanitise`` for the last pass that leaves plain
text only, and ``chunking`` for the cutting.
"""

from __future__ import annotations

from ezhr_graphql.rag.parsing.chunking import chunk_document
from ezhr_graphql.rag.parsing.detect import detect, detect_kind
from ezhr_graphql.rag.parsing.docx import parse_docx
from ezhr_graphql.rag.parsing.html import parse_html
from ezhr_graphql.rag.parsing.markdown import parse_markdown
from ezhr_graphql.rag.parsing.pdf import parse_pdf
from ezhr_graphql.rag.parsing.sanitise import plain_document
from ezhr_graphql.rag.parsing.text import parse_text
from ezhr_graphql.rag.parsing.types import (
    Chunk,
    DocumentKind,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
    Section,
)

__all__ = [
    "Chunk",
    "DocumentKind",
    "ParseError",
    "ParseErrorCode",
    "ParsedDocument",
    "Section",
    "chunk_document",
    "detect_kind",
    "parse_document",
]


def parse_document(data: bytes, filename: str | None = None) -> ParsedDocument:
    """Detect the kind of ``data`` and extract its text as structured sections.

    Raises :class:`ParseError` (``EMPTY_FILE``, ``UNSUPPORTED_TYPE``, ``CORRUPT_FILE`` or
    ``NO_TEXT_LAYER``) when no text can be had.
    """
    # Whatever the format, the text is stored and quoted back as plain text: one last
    # pass takes out markup and script links that each format's parser let through.
    return plain_document(_parse(data, filename))


def _parse(data: bytes, filename: str | None) -> ParsedDocument:
    kind, text = detect(data, filename)
    if kind is DocumentKind.PDF:
        return parse_pdf(data)
    if kind is DocumentKind.DOCX:
        return parse_docx(data)
    assert text is not None
    if kind is DocumentKind.MARKDOWN:
        return parse_markdown(text)
    if kind is DocumentKind.HTML:
        return parse_html(text)
    return parse_text(text)
