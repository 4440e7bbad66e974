"""Type detection: which kind of document an upload holds, judged by its content.

The content decides, never the name: an upload's extension only breaks the tie between
Markdown and plain text when the content could be either.
"""

from __future__ import annotations

import io
import re
import zipfile

from ezhr_graphql.rag.parsing.types import DocumentKind, ParseError, ParseErrorCode

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")

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

# YAML front matter opening a Markdown file (the Markdown parser reads it too).
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.M)
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
    return detect(data, filename)[0]


def detect(data: bytes, filename: str | None) -> tuple[DocumentKind, str | None]:
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
    front = FRONT_MATTER_RE.match(sample)
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
