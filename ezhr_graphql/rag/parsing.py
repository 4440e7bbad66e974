"""Turn an uploaded HR document into clean, structured text and cut it into chunks.

Everything here is synchronous and pure (bytes in, values out; no I/O, no logging), so the
ingestion job can run it in a worker thread. The type of a document is decided by its
content, never by its name: an upload's extension is only a hint for telling Markdown
from plain text when the content could be either.

``parse_document`` returns :class:`ParsedDocument` whose sections follow the document's
structure (a PDF page, or the text under one heading); ``chunk_document`` cuts each
section on its own with LlamaIndex's ``SentenceSplitter``, so a chunk never spans two
headings or two pages and keeps its section's heading path and page as metadata.
"""

from __future__ import annotations

import datetime
import html
import io
import re
import threading
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from llama_index.core.node_parser import SentenceSplitter

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


# --------------------------------------------------------------------------------------
# Type detection
# --------------------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")
_MAX_DOCX_XML_BYTES = 200 * 1024 * 1024

_SUPPORTED_HINT = "Upload a PDF, Word (.docx), Markdown, HTML or plain-text (UTF-8) file."

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "Images are not supported (there is no OCR)."),
    (b"\xff\xd8\xff", "Images are not supported (there is no OCR)."),
    (b"GIF87a", "Images are not supported (there is no OCR)."),
    (b"GIF89a", "Images are not supported (there is no OCR)."),
    (b"II*\x00", "Images are not supported (there is no OCR)."),
    (b"MM\x00*", "Images are not supported (there is no OCR)."),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "Legacy Office files (.doc, .xls, .ppt) are not supported; save it as .docx or PDF.",
    ),
    (b"{\\rtf", "RTF files are not supported; save it as .docx or PDF."),
)

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.M)
_MD_STRONG_RES = (
    re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M),  # ATX heading
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),  # inline link
    re.compile(r"^ {0,3}(?:```|~~~)", re.M),  # fenced code
    re.compile(r"^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.M),
    re.compile(r"^[^\s].*\n {0,3}=+[ \t]*$", re.M),  # setext heading
)
_MD_WEAK_RES = (
    re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.M),  # list items
    re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),  # strong emphasis
    re.compile(r"^ {0,3}>[ \t]?\S", re.M),  # block quotes
)
_HTML_START_RE = re.compile(
    r"\A(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.DOTALL
)
_HTML_NEAR_START_RE = re.compile(r"<(?:!doctype\s+html|html|body)\b", re.I)


def detect_kind(data: bytes, filename: str | None = None) -> DocumentKind:
    """The kind of document ``data`` holds, judged by its content.

    ``filename`` only breaks the tie between Markdown and plain text (``.md``). Raises
    :class:`ParseError` with ``EMPTY_FILE`` or ``UNSUPPORTED_TYPE``.
    """
    return _detect(data, filename)[0]


def _detect(data: bytes, filename: str | None) -> tuple[DocumentKind, str | None]:
    """The kind, and for text kinds the decoded text (so parsing decodes only once)."""
    if not data.removeprefix(_UTF8_BOM).strip():
        raise ParseError(ParseErrorCode.EMPTY_FILE, "The file is empty.")
    if _is_pdf(data):
        return DocumentKind.PDF, None
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _detect_zip(data), None
    for signature, reason in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise ParseError(ParseErrorCode.UNSUPPORTED_TYPE, reason)
    text = _decode_text(data)
    if text is None:
        raise ParseError(
            ParseErrorCode.UNSUPPORTED_TYPE,
            f"The file is neither a supported document nor UTF-8 text. {_SUPPORTED_HINT}",
        )
    if not text.strip():
        raise ParseError(ParseErrorCode.EMPTY_FILE, "The file contains only whitespace.")
    return _classify_text(text, filename), text


def _is_pdf(data: bytes) -> bool:
    # Readers accept the header anywhere in the first KiB; allow leading whitespace only,
    # so that a text file quoting "%PDF-" is not taken for a PDF.
    at = data.find(b"%PDF-", 0, 1024)
    return at == 0 or (at > 0 and not data[:at].strip())


def _detect_zip(data: bytes) -> DocumentKind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        # A damaged archive: a DOCX still shows its part names in the local headers.
        if b"word/document.xml" in data:
            return DocumentKind.DOCX
        raise ParseError(
            ParseErrorCode.UNSUPPORTED_TYPE, f"ZIP archives are not supported. {_SUPPORTED_HINT}"
        ) from None
    if "word/document.xml" in names:
        return DocumentKind.DOCX
    if any(name.startswith(("xl/", "ppt/")) for name in names):
        reason = "Spreadsheets and presentations are not supported."
    elif "content.xml" in names:
        reason = "OpenDocument files are not supported; save it as .docx or PDF."
    else:
        reason = "ZIP archives are not supported."
    raise ParseError(ParseErrorCode.UNSUPPORTED_TYPE, f"{reason} {_SUPPORTED_HINT}")


def _decode_text(data: bytes) -> str | None:
    """UTF-8 (optionally with a BOM), or UTF-16 with a BOM; ``None`` for anything else."""
    try:
        if data.startswith(_UTF16_BOMS):
            text = data.decode("utf-16")
        elif b"\x00" in data:
            return None
        else:
            text = data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    sample = text[:65536]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\f\v")
    if controls > max(8, len(sample) // 100):
        return None
    return text


def _classify_text(text: str, filename: str | None) -> DocumentKind:
    head = text.lstrip("\ufeff")[:4096]
    if _HTML_START_RE.match(head) or (
        head.lstrip().startswith("<") and _HTML_NEAR_START_RE.search(head[:1024])
    ):
        return DocumentKind.HTML
    sample = text.replace("\r\n", "\n").replace("\r", "\n")[:200_000]
    front = _FRONT_MATTER_RE.match(sample)
    if front and re.search(r"^[A-Za-z_][\w-]*[ \t]*:", front.group(1), re.M):
        return DocumentKind.MARKDOWN
    if any(pattern.search(sample) for pattern in _MD_STRONG_RES):
        return DocumentKind.MARKDOWN
    weak = sum(len(pattern.findall(sample)) for pattern in _MD_WEAK_RES)
    if weak >= 2:
        return DocumentKind.MARKDOWN
    # The content reads the same either way: let the extension break the tie.
    if filename and filename.strip().lower().endswith(_MARKDOWN_EXTENSIONS):
        return DocumentKind.MARKDOWN
    return DocumentKind.TEXT


# --------------------------------------------------------------------------------------
# Parsing entry point and shared helpers
# --------------------------------------------------------------------------------------


def parse_document(data: bytes, filename: str | None = None) -> ParsedDocument:
    """Detect the kind of ``data`` and extract its text as structured sections.

    Raises :class:`ParseError` (``EMPTY_FILE``, ``UNSUPPORTED_TYPE``, ``CORRUPT_FILE`` or
    ``NO_TEXT_LAYER``) when no text can be had.
    """
    kind, text = _detect(data, filename)
    if kind is DocumentKind.PDF:
        return _parse_pdf(data)
    if kind is DocumentKind.DOCX:
        return _parse_docx(data)
    assert text is not None
    if kind is DocumentKind.MARKDOWN:
        return _parse_markdown(text)
    if kind is DocumentKind.HTML:
        return _parse_html(text)
    return _parse_text(text)


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


def _normalise(text: str) -> str:
    """NFC, Unix newlines, plain spaces; no control, zero-width or private-use characters."""
    text = unicodedata.normalize("NFC", text)
    text = _NEWLINES_RE.sub("\n", text)
    text = _INVISIBLE_RE.sub("", text)
    if not text.isascii():
        text = _SPACES_RE.sub(" ", text)
        text = _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group(0)], text)
    return text


def _tidy(text: str) -> str:
    """Strip trailing spaces from lines, squeeze runs of blank lines, trim the ends."""
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n").rstrip()


def _squeeze_spaces(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


class _SectionBuilder:
    """Collects body text and cuts a new :class:`Section` at every heading."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.first_heading: str | None = None
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        text = _squeeze_spaces(text)
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
        body = _tidy("\n".join(self._lines))
        self._lines = []
        if body.strip():
            path = tuple(text for _, text in self._stack)
            self.sections.append(Section(text=body, heading_path=path))


def _no_text(kind: str) -> ParseError:
    return ParseError(ParseErrorCode.EMPTY_FILE, f"The {kind} contains no readable text.")


# --------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------


def _parse_text(text: str) -> ParsedDocument:
    body = _tidy(_normalise(text))
    if not body.strip():
        raise _no_text("file")
    return ParsedDocument(
        kind=DocumentKind.TEXT,
        sections=[Section(text=body)],
        title=None,
        effective_date=None,
        tags=(),
        metadata={},
    )


# --------------------------------------------------------------------------------------
# Markdown (with YAML front matter, Jekyll Liquid and inline HTML)
# --------------------------------------------------------------------------------------

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
_EFFECTIVE_DATE_KEYS = ("effective_date", "effective", "effective_from", "valid_from", "date")
_MAX_METADATA_FIELDS = 50
_MAX_METADATA_VALUE = 1000

_LIQUID_COMMENT_RE = re.compile(
    r"\{%-?\s*comment\s*-?%\}.*?(?:\{%-?\s*endcomment\s*-?%\}|\Z)", re.DOTALL | re.I
)
_LIQUID_TAG_RE = re.compile(r"\{%-?((?:(?!\{%).)*?)-?%\}", re.DOTALL)
_LIQUID_OUTPUT_RE = re.compile(r"\{\{(?:(?!\{\{).)*?\}\}", re.DOTALL)
_LIQUID_STRAY_RE = re.compile(r"\{%|%\}|\{\{|\}\}")
_QUOTED_RE = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_HTML_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_DROP_RE = re.compile(
    r"<(script|style|iframe|noscript|template|svg)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.DOTALL | re.I
)
_HTML_HEADING_RE = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.DOTALL | re.I)
_HTML_TAG_RE = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b(?:[^<>\"']|\"[^\"]*\"|'[^']*')*/?>")
_HTML_BLOCK_OPEN_RE = re.compile(r"^ {0,3}</?([A-Za-z][A-Za-z0-9]*)[\s/>]")
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp|mailto):[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")
_MD_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(([^()\s]*)(?:\s+\"[^\"]*\")?\s*\)")
_MD_LINK_RE = re.compile(r"(?<!!)\[([^\]]+)\]\(\s*([^()\s]*)(?:\s+\"[^\"]*\")?\s*\)")
_ABSOLUTE_URL_RE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
_KRAMDOWN_ATTR_RE = re.compile(r"^[ \t]*\{:[^}\n]*\}[ \t]*$", re.M)
_HEADING_ATTR_RE = re.compile(r"[ \t]*\{[#:.][^}]*\}[ \t]*$")
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_THEMATIC_BREAK_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_EMPTY_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n`]*\n(?:[ \t]*\n)*? {0,3}\1[ \t]*$", re.M)
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BLOCK_START_RE = re.compile(r"^ {0,3}(?:[-*+>]|\d{1,9}[.)]|#|\||`{3,}|~{3,})")

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "button",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "img",
        "input",
        "ins",
        "kbd",
        "label",
        "mark",
        "meter",
        "option",
        "picture",
        "q",
        "s",
        "samp",
        "select",
        "small",
        "source",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "td",
        "th",
        "time",
        "tt",
        "u",
        "var",
        "video",
        "audio",
        "wbr",
    ]
)


def _parse_markdown(text: str) -> ParsedDocument:
    text = _normalise(text)
    front: dict[str, Any] = {}
    match = _FRONT_MATTER_RE.match(text)
    if match:
        front = _load_front_matter(match.group(1))
        text = text[match.end() :]

    builder = _SectionBuilder()
    _split_markdown(_clean_markdown(text), builder)
    builder.flush()

    title = _front_title(front) or builder.first_heading
    if not builder.sections:
        raise _no_text("document")
    date_key, effective_date = _front_effective_date(front)
    tags = _front_tags(front)
    metadata = _front_metadata(front, exclude={"title", "tags", *([date_key] if date_key else [])})
    return ParsedDocument(
        kind=DocumentKind.MARKDOWN,
        sections=builder.sections,
        title=title,
        effective_date=effective_date,
        tags=tags,
        metadata=metadata,
    )


def _load_front_matter(source: str) -> dict[str, Any]:
    try:
        loaded = yaml.load(source, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(key): value for key, value in loaded.items() if isinstance(key, str | int)}


def _front_title(front: dict[str, Any]) -> str | None:
    value = front.get("title")
    if value is None or isinstance(value, dict | list):
        return None
    title = _squeeze_spaces(_inline_plain(_strip_markup(_normalise(str(value)))))
    return title or None


def _front_effective_date(front: dict[str, Any]) -> tuple[str | None, datetime.date | None]:
    for key in _EFFECTIVE_DATE_KEYS:
        value = _as_date(front.get(key))
        if value is not None:
            return key, value
    return None, None


def _as_date(value: object) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", value)
        if match:
            try:
                return datetime.date.fromisoformat(match.group(1))
            except ValueError:
                return None
    return None


def _front_tags(front: dict[str, Any]) -> tuple[str, ...]:
    value = front.get("tags")
    items: Iterable[object]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [item for item in value if _is_scalar(item)]
    else:
        return ()
    tags = (_squeeze_spaces(_normalise(str(item))) for item in items)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | datetime.date) and not isinstance(value, bool)


def _front_metadata(front: dict[str, Any], *, exclude: set[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for key, value in front.items():
        if key in exclude or len(metadata) >= _MAX_METADATA_FIELDS:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif _is_scalar(value):
            text = value.isoformat() if isinstance(value, datetime.date) else str(value)
        else:
            continue  # None, lists, mappings
        text = _normalise(text).strip()
        if text and len(text) <= _MAX_METADATA_VALUE:
            metadata[key] = text
    return metadata


def _liquid_tag(match: re.Match[str]) -> str:
    """What a Jekyll tag renders as, when that is readable text; otherwise nothing."""
    name, *rest = match.group(1).split(None, 1) or [""]
    args = rest[0] if rest else ""
    quoted = [a or b for a, b in _QUOTED_RE.findall(args)]
    if name == "alert" and quoted:
        return f"{quoted[0]}\n"
    if name == "slack_channel" and quoted:
        return quoted[1] if len(quoted) > 1 and quoted[1] else f"#{quoted[0]}"
    return ""


def _strip_markup(text: str) -> str:
    """Remove Liquid and HTML (keeping the text inside elements); unescape entities."""
    text = _HTML_COMMENT_RE.sub("", text)
    text = _LIQUID_COMMENT_RE.sub("", text)
    text = _LIQUID_TAG_RE.sub(_liquid_tag, text)
    text = _LIQUID_OUTPUT_RE.sub("", text)
    text = _LIQUID_STRAY_RE.sub("", text)
    text = _HTML_DROP_RE.sub("", text)
    text = _HTML_HEADING_RE.sub(
        lambda m: f"\n\n{'#' * int(m.group(1))} {_squeeze_spaces(m.group(2))}\n\n", text
    )
    text = _AUTOLINK_RE.sub(r"\1", text)
    text = _dedent_html_blocks(text)
    text = _HTML_TAG_RE.sub(_html_tag_replacement, text)
    return html.unescape(text)


def _dedent_html_blocks(text: str) -> str:
    """Drop the indentation of raw HTML blocks (from a line opening a block-level element
    to the next blank line): it is HTML layout, and would read as a code block."""
    lines = text.split("\n")
    in_block = False
    for index, line in enumerate(lines):
        if not line.strip():
            in_block = False
            continue
        if not in_block:
            opening = _HTML_BLOCK_OPEN_RE.match(line)
            in_block = bool(opening and opening.group(1).lower() in _BLOCK_TAGS | {"td", "th"})
        if in_block:
            lines[index] = line.lstrip()
    return "\n".join(lines)


def _html_tag_replacement(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name in _BLOCK_TAGS:
        return "\n"
    if name in ("td", "th"):
        return " " if match.group(0).startswith("</") else ""
    if name in _INLINE_TAGS:
        return ""
    return match.group(0)  # not HTML (e.g. "<project name>"): leave it


def _clean_markdown(text: str) -> str:
    text = _strip_markup(text)
    text = _KRAMDOWN_ATTR_RE.sub("", text)
    text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _MD_LINK_RE.sub(_relative_link_to_text, text)
    text = _EMPTY_FENCE_RE.sub("", text)  # code samples that held only Liquid
    lines = [re.sub(r"(?<=\S)[ \t]{2,}", " ", line).rstrip() for line in text.split("\n")]
    return _tidy("\n".join(lines))


def _relative_link_to_text(match: re.Match[str]) -> str:
    # Links to other handbook pages (once rendered by Liquid) or to nowhere mean nothing
    # outside the site: keep their words. Absolute links stay as Markdown.
    if _ABSOLUTE_URL_RE.match(match.group(2)):
        return match.group(0)
    return match.group(1)


def _inline_plain(text: str) -> str:
    """Heading or title text without inline Markdown."""
    text = _HEADING_ATTR_RE.sub("", text)
    text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)", r"\1", text)
    return text.strip()


def _split_markdown(text: str, builder: _SectionBuilder) -> None:
    lines = text.split("\n")
    fence: str | None = None
    previous_blank = True
    pending: str | None = None  # a paragraph line that a setext underline may promote
    for line in lines:
        fence_match = _FENCE_RE.match(line)
        if fence is not None:
            closing = fence_match.group(1) if fence_match else ""
            if closing[:1] == fence[0] and len(closing) >= len(fence):
                fence = None
            builder.add(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            if pending is not None:
                builder.add(pending)
                pending = None
            builder.add(line)
            previous_blank = False
            continue
        atx = _ATX_RE.match(line)
        if atx:
            if pending is not None:
                builder.add(pending)
                pending = None
            builder.heading(len(atx.group(1)), _inline_plain(atx.group(2) or ""))
            previous_blank = True
            continue
        setext = _SETEXT_RE.match(line)
        if setext and pending is not None:
            builder.heading(1 if setext.group(1)[0] == "=" else 2, _inline_plain(pending))
            pending = None
            previous_blank = True
            continue
        if pending is not None:
            builder.add(pending)
            pending = None
        if _THEMATIC_BREAK_RE.match(line):
            previous_blank = True
            continue
        if not line.strip():
            builder.add(line)
            previous_blank = True
            continue
        if previous_blank and not _BLOCK_START_RE.match(line) and not line.startswith("    "):
            pending = line  # the first line of a paragraph: held back one line
        else:
            builder.add(line)
        previous_blank = False
    if pending is not None:
        builder.add(pending)


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

_HTML_SKIP_TAGS = frozenset({"script", "style", "nav", "noscript", "template", "svg", "iframe"})
_HTML_PARAGRAPH_TAGS = frozenset(
    {"p", "div", "table", "ul", "ol", "dl", "blockquote", "pre", "section", "article", "main"}
)
_HTML_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = _SectionBuilder()
        self.title: str | None = None
        self._skip: list[str] = []
        self._in_head = False
        self._title_parts: list[str] | None = None
        self._heading: tuple[int, list[str]] | None = None
        self._line: list[str] = []
        self._pre = 0
        self._row_cells = 0

    # structure --------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIP_TAGS:
            self._skip.append(tag)
        if self._skip:
            return
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "title" and self.title is None:
            self._title_parts = []
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self._end_line()
            self._heading = (int(tag[1]), [])
        elif tag == "li":
            self._end_line()
            self._line.append("- ")
        elif tag == "tr":
            self._end_line()
            self._row_cells = 0
        elif tag in ("td", "th"):
            if self._row_cells:
                self._line.append(" | ")
            self._row_cells += 1
        elif tag == "pre":
            self._end_line()
            self._pre += 1
        elif tag in ("br", "hr") or tag in _BLOCK_TAGS:
            self._end_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_VOID_TAGS:
            self.handle_starttag(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag == "head":
            self._in_head = False
        elif tag == "title" and self._title_parts is not None:
            self.title = _squeeze_spaces(_normalise("".join(self._title_parts))) or None
            self._title_parts = None
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" and self._heading:
            level, parts = self._heading
            self._heading = None
            self.builder.heading(level, _normalise("".join(parts)))
        elif tag == "pre":
            self._end_line()
            self._pre = max(0, self._pre - 1)
            self.builder.add("")
        elif tag in _HTML_PARAGRAPH_TAGS:
            self._end_line()
            self.builder.add("")
        elif tag in _BLOCK_TAGS:
            self._end_line()

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._skip or self._in_head:
            return
        if self._heading is not None:
            self._heading[1].append(data)
        elif self._pre:
            pieces = data.split("\n")
            for index, piece in enumerate(pieces):
                if index:
                    self._end_line(keep_spaces=True)
                self._line.append(piece)
        else:
            self._line.append(re.sub(r"\s+", " ", data))

    # text -------------------------------------------------------------------------
    def _end_line(self, *, keep_spaces: bool = False) -> None:
        if self._heading is not None:
            return  # block tags inside a heading do not break it
        raw = _normalise("".join(self._line))
        self._line = []
        text = raw.rstrip() if keep_spaces else _squeeze_spaces(raw)
        if text and text != "-":
            self.builder.add(text)

    def finish(self) -> None:
        self.close()
        if self._heading is not None:
            level, parts = self._heading
            self._heading = None
            self.builder.heading(level, _normalise("".join(parts)))
        self._end_line()
        self.builder.flush()


def _parse_html(text: str) -> ParsedDocument:
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.finish()
    except (AssertionError, ValueError, RecursionError) as exc:  # pragma: no cover - defensive
        raise ParseError(ParseErrorCode.CORRUPT_FILE, "The HTML could not be read.") from exc
    if not parser.builder.sections:
        raise _no_text("page")
    return ParsedDocument(
        kind=DocumentKind.HTML,
        sections=parser.builder.sections,
        title=parser.title or parser.builder.first_heading,
        effective_date=None,
        tags=(),
        metadata={},
    )


# --------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------

_DOCX_HEADING_RE = re.compile(r"heading\s*([1-9])")
_DOCX_LIST_RE = re.compile(r"list")


def _parse_docx(data: bytes) -> ParsedDocument:
    _check_docx_size(data)
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
        builder = _SectionBuilder()
        title_paragraph: str | None = None
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for line in _docx_table_lines(block):
                    builder.add(line)
                builder.add("")
                continue
            text = _squeeze_spaces(_normalise(block.text))
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
        core_title = _squeeze_spaces(_normalise(document.core_properties.title or ""))
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(
            ParseErrorCode.CORRUPT_FILE,
            "The Word document is damaged or not a valid .docx file.",
        ) from exc
    if not builder.sections:
        raise _no_text("document")
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
            parts = [_squeeze_spaces(_normalise(p.text)) for p in cell.paragraphs]
            cells.append(" ".join(part for part in parts if part))
            nested.extend(cell.tables)
        if any(cells):
            yield " | ".join(cells)
        for inner in nested:
            yield from _docx_table_lines(inner)


# --------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------

_VNI_PAIR_RE = re.compile(r"[AEIOUYaeiouy][ÂâÙùØøÛûÕõÏïÄäÅåÊêËëÜüÖö]")
_TCVN3_RE = re.compile(r"[A-Za-z][\u00a2-\u00be]|[\u00a2-\u00be][A-Za-z]")
_SENTENCE_END = tuple(".!?:;…")


def _parse_pdf(data: bytes) -> ParsedDocument:
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

    page_lines: list[list[str]] = []
    failures = 0
    for page in pages:
        try:
            raw = page.extract_text() or ""
        except Exception:
            failures += 1
            raw = ""
        page_lines.append([_squeeze_spaces(line) for line in _normalise(raw).split("\n")])

    page_lines = _drop_running_lines(page_lines)
    sections = [
        Section(text=text, page=number)
        for number, lines in enumerate(page_lines, start=1)
        if (text := _tidy("\n".join(_reflow(lines))))
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


def _pdf_title(reader: Any) -> str | None:
    try:
        info = reader.metadata
        raw = info.title if info is not None else None
    except Exception:
        return None
    if not isinstance(raw, str):
        return None
    title = _squeeze_spaces(_normalise(raw))
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


# --------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------

_tokenizer_lock = threading.Lock()


def _tokenizer() -> Callable[[str], Sequence[Any]]:
    """LlamaIndex's tokenizer: tiktoken ``cl100k_base`` read from the cache bundled in
    llama-index-core (``llama_index/core/_static/tiktoken_cache``), so nothing is
    downloaded. Initialised under a lock because LlamaIndex points tiktoken at that cache
    through a temporary environment variable."""
    from llama_index.core.utils import get_tokenizer

    with _tokenizer_lock:
        return get_tokenizer()


# A sentence ends at terminal punctuation (and any closing quotes or brackets) followed by
# whitespace; a line break also ends a unit (list items, table rows, PDF lines).
_SENTENCE_END_RE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019\u00bb)\]]*\s+|\n\s*")


def _split_sentences(text: str) -> list[str]:
    """Sentence splitter for ``SentenceSplitter``: pieces that concatenate back to ``text``.

    It replaces LlamaIndex's default, NLTK's English Punkt model, which is of little use on
    Vietnamese and reads its data files through NLTK's path guard, which refuses the
    hard-linked files that uv installs from its cache.
    """
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=_tokenizer(),
        chunking_tokenizer_fn=_split_sentences,
    )


def chunk_document(
    doc: ParsedDocument, *, chunk_size: int = 512, chunk_overlap: int = 64
) -> list[Chunk]:
    """Split every section on its own (chunks never cross a heading or a page) into chunks
    of at most ``chunk_size`` tokens, consecutive chunks sharing about ``chunk_overlap``."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_overlap must be at least 0 and smaller than chunk_size")
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for section in doc.sections:
        for piece in splitter.split_text(section.text):
            text = piece.strip()
            if text:
                chunks.append(
                    Chunk(
                        text=text,
                        heading_path=section.heading_path,
                        page=section.page,
                        ordinal=len(chunks),
                    )
                )
    return chunks
