"""Small PDFs with a real text layer, written by hand for parsing tests.

``text_pdf`` lays each page's lines out top to bottom in 12 pt Helvetica (one of the
standard Type 1 fonts every reader knows, so nothing is embedded) with WinAnsiEncoding,
which covers ASCII and Latin-1.
"""

from __future__ import annotations

_TOP = 750  # first baseline, in points from the bottom of a US Letter page
_LEADING = 16


def _pdf_string(text: str) -> bytes:
    """``text`` as a PDF literal string: backslash and parentheses escaped."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def _content_stream(lines: list[str]) -> bytes:
    ops = [
        b"BT /F1 12 Tf 72 %d Td %s Tj ET" % (_TOP - index * _LEADING, _pdf_string(line))
        for index, line in enumerate(lines)
    ]
    return b"\n".join(ops) + b"\n"


def text_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one page per entry of ``pages``, each showing its lines.

    Object 1 is the catalog, 2 the page tree, 3 the font; then a page object and its
    content stream for each page.
    """
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    page_ids = [4 + 2 * index for index in range(len(pages))]
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        font,
    ]
    for page_id, lines in zip(page_ids, pages, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        stream = _content_stream(lines)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
