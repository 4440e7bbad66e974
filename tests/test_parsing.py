"""Parsing and chunking of uploaded HR documents (ezhr_graphql.rag.parsing)."""

from __future__ import annotations

import datetime
import io
import itertools
import os
import re
import subprocess
import sys
import textwrap
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from ezhr_graphql.rag.parsing import (
    Chunk,
    DocumentKind,
    ParsedDocument,
    ParseError,
    Section,
    chunk_document,
    detect_kind,
    parse_document,
)
from tests.knowledge import HANDBOOK, LABOUR_PDF, blank_pdf

# Pages 1, 2, 3 and 14 of the 17-page original (tests/fixtures/README.md).
EXCERPT_PAGES = [1, 2, 3, 14]


def _pdf_bytes() -> bytes:
    return LABOUR_PDF.read_bytes()


def _parse_error(data: bytes, filename: str | None = None) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_document(data, filename)
    return caught.value


# --- type detection ----------------------------------------------------------------


def test_a_pdf_named_txt_is_still_a_pdf() -> None:
    assert detect_kind(_pdf_bytes(), "policy.txt") is DocumentKind.PDF
    assert parse_document(_pdf_bytes(), "policy.txt").kind is DocumentKind.PDF


def test_an_image_named_pdf_is_unsupported() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    error = _parse_error(png, "handbook.pdf")
    assert error.code == "UNSUPPORTED_TYPE"
    assert "image" in error.reason.lower()


def test_a_zip_named_pdf_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ParseError) as caught:
        detect_kind(buffer.getvalue(), "handbook.pdf")
    assert caught.value.code == "UNSUPPORTED_TYPE"


def test_undecodable_binary_is_unsupported() -> None:
    assert _parse_error(bytes(range(256)) * 4, "notes.txt").code == "UNSUPPORTED_TYPE"
    latin1 = "Café, déjà vu".encode("latin-1")  # not UTF-8
    assert _parse_error(latin1, "notes.txt").code == "UNSUPPORTED_TYPE"


@pytest.mark.parametrize("data", [b"", b"   \n\t \r\n", b"\xef\xbb\xbf  \n"])
def test_empty_or_blank_files(data: bytes) -> None:
    error = _parse_error(data, "empty.md")
    assert error.code == "EMPTY_FILE"
    assert error.reason


def test_text_kinds_are_told_apart_by_content() -> None:
    html_doc = b"<!DOCTYPE html><html><body><p>Hi</p></body></html>"
    assert detect_kind(html_doc, "page.md") is DocumentKind.HTML
    assert detect_kind(b"---\ntitle: Leave\n---\nSome text.\n", "x.txt") is DocumentKind.MARKDOWN
    assert detect_kind(b"# Leave\n\nSome text.\n", None) is DocumentKind.MARKDOWN
    assert detect_kind(b"See [the form](https://example.org).", None) is DocumentKind.MARKDOWN
    assert detect_kind(b"- one\n- two\n", None) is DocumentKind.MARKDOWN
    prose = "Nhân viên được nghỉ 12 ngày mỗi năm.\n".encode()
    assert detect_kind(prose, "policy.txt") is DocumentKind.TEXT
    assert detect_kind(prose, None) is DocumentKind.TEXT
    # The extension only breaks the tie for content that could be either.
    assert detect_kind(prose, "policy.md") is DocumentKind.MARKDOWN
    assert detect_kind(b"\xef\xbb\xbfPlain words.", None) is DocumentKind.TEXT


# --- PDF -------------------------------------------------------------------------------


def test_truncated_pdf_is_corrupt() -> None:
    data = _pdf_bytes()
    error = _parse_error(data[: len(data) // 2], "policy.pdf")
    assert error.code == "CORRUPT_FILE"
    assert "Traceback" not in error.reason
    assert "/" not in error.reason


def test_garbage_after_pdf_magic_is_corrupt() -> None:
    assert _parse_error(b"%PDF-1.7\n" + b"garbage " * 100).code == "CORRUPT_FILE"


def test_pdf_without_a_text_layer() -> None:
    data = blank_pdf()
    assert detect_kind(data) is DocumentKind.PDF
    error = _parse_error(data, "scan.pdf")
    assert error.code == "NO_TEXT_LAYER"
    assert "scan" in error.reason.lower()


def test_password_protected_pdf_is_corrupt_with_a_clear_reason() -> None:
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(_pdf_bytes())).pages[0])
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    error = _parse_error(out.getvalue(), "locked.pdf")
    assert error.code == "CORRUPT_FILE"
    assert "password" in error.reason.lower()


def test_pdf_encrypted_without_a_user_password_opens() -> None:
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(_pdf_bytes())).pages[0])
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    doc = parse_document(out.getvalue())
    assert "Điều 1" in doc.sections[0].text


def test_vietnamese_pdf_pages_and_unicode() -> None:
    doc = parse_document(_pdf_bytes(), "NQLD01.pdf")
    assert doc.kind is DocumentKind.PDF
    pages = [section.page for section in doc.sections]
    assert pages == list(range(1, len(EXCERPT_PAGES) + 1))
    assert all(section.heading_path == () for section in doc.sections)
    text = "\n".join(section.text for section in doc.sections)
    assert unicodedata.is_normalized("NFC", text)
    for word in ("Điều", "lao động", "người", "NỘI QUY LAO ĐỘNG", "Thời giờ làm việc"):
        assert word in text, word
    first = doc.sections[0].text
    assert "Điều 1. Mục đích ban hành Nội quy lao động" in first
    # Lines wrapped mid-sentence are joined again.
    assert "kỷ luật lao động mà người lao động phải chấp hành" in first
    # pypdf yields some accents of page 14 as a letter + a combining mark ("tắc" as
    # "tă" + U+0301): NFC composes them.
    raw = PdfReader(io.BytesIO(_pdf_bytes())).pages[EXCERPT_PAGES.index(14)].extract_text()
    assert "Điều 19. Quy tắc khi xử lý" not in raw
    assert "Điều 19. Quy tắc khi xử lý" in doc.sections[EXCERPT_PAGES.index(14)].text
    # The running header "Trang N" (the original's page number) tops every page of the
    # PDF, and is gone from every section.
    for number, page in zip(EXCERPT_PAGES, PdfReader(io.BytesIO(_pdf_bytes())).pages, strict=True):
        assert re.search(rf"(?m)^Trang {number}\s*$", page.extract_text()), number
    assert not re.search(r"(?m)^Trang \d+$", text)
    # The info title is VNI mojibake ("UÛY BAN NHAÂN DAÂN TP"): better none than that.
    assert doc.title is None


# --- DOCX ------------------------------------------------------------------------------


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Sổ tay nhân viên"
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("Everyone gets paid leave.")
    document.add_heading("Annual leave", level=2)
    document.add_paragraph("You earn 12 days of annual leave a year.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Years of service"
    table.cell(0, 1).text = "Days"
    table.cell(1, 0).text = "More than 5"
    table.cell(1, 1).text = "14"
    document.add_heading("Sick leave", level=2)
    document.add_paragraph("Bring a doctor's note after 3 days.")
    document.add_paragraph("Tell your manager first.", style="List Bullet")
    document.add_heading("Benefits", level=1)
    document.add_paragraph("Health insurance from day one.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headings_paragraphs_and_tables() -> None:
    data = _docx_bytes()
    assert detect_kind(data, "handbook.pdf") is DocumentKind.DOCX
    doc = parse_document(data, "handbook.docx")
    assert doc.kind is DocumentKind.DOCX
    assert doc.title == "Sổ tay nhân viên"
    by_path = {section.heading_path: section.text for section in doc.sections}
    assert list(by_path) == [
        ("Leave policy",),
        ("Leave policy", "Annual leave"),
        ("Leave policy", "Sick leave"),
        ("Benefits",),
    ]
    assert by_path[("Leave policy",)] == "Everyone gets paid leave."
    annual = by_path[("Leave policy", "Annual leave")]
    assert "You earn 12 days" in annual
    assert "Years of service | Days" in annual
    assert "More than 5 | 14" in annual
    assert "- Tell your manager first." in by_path[("Leave policy", "Sick leave")]
    assert all(section.page is None for section in doc.sections)


def test_truncated_docx_is_corrupt() -> None:
    data = _docx_bytes()
    truncated = data[: len(data) // 2]
    assert detect_kind(truncated) is DocumentKind.DOCX
    assert _parse_error(truncated, "handbook.docx").code == "CORRUPT_FILE"


def test_docx_with_a_broken_document_part_is_corrupt() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not really xml")
    assert _parse_error(buffer.getvalue(), "x.docx").code == "CORRUPT_FILE"


# --- HTML and plain text ------------------------------------------------------------


def test_html_page() -> None:
    page = textwrap.dedent(
        """\
        <!DOCTYPE html>
        <html lang="en">
        <head>
          <title>Leave &amp; holidays</title>
          <style>body { color: red; }</style>
          <script>var secret = "do not index";</script>
        </head>
        <body>
          <nav><a href="/">Home</a> <a href="/jobs">Jobs</a></nav>
          <p>Welcome to the <b>handbook</b>.</p>
          <h1>Leave</h1>
          <p>Ask your manager&nbsp;first. Caf&eacute; breaks are free.</p>
          <h2>Annual leave</h2>
          <ul><li>12 days a year</li><li>Carry over up to 5</li></ul>
          <table>
            <tr><th>Grade</th><th>Days</th></tr>
            <tr><td>Senior</td><td>15</td></tr>
          </table>
          <script>alert("nope")</script>
        </body>
        </html>
        """
    ).encode()
    doc = parse_document(page, "leave.txt")
    assert doc.kind is DocumentKind.HTML
    assert doc.title == "Leave & holidays"
    by_path = {section.heading_path: section.text for section in doc.sections}
    assert by_path[()] == "Welcome to the handbook."
    assert by_path[("Leave",)] == "Ask your manager first. Café breaks are free."
    annual = by_path[("Leave", "Annual leave")]
    assert "- 12 days a year\n- Carry over up to 5" in annual
    assert "Grade | Days\nSenior | 15" in annual
    everything = "\n".join(by_path.values())
    for dropped in ("secret", "nope", "color", "Home", "Jobs"):
        assert dropped not in everything


def test_plain_text_is_one_section() -> None:
    data = "Quy định nghỉ phép\r\n\r\n\r\n\r\nNhân viên được nghỉ 12 ngày.  \r\n".encode()
    doc = parse_document(data, "policy.txt")
    assert doc.kind is DocumentKind.TEXT
    assert doc.sections == [Section(text="Quy định nghỉ phép\n\nNhân viên được nghỉ 12 ngày.")]
    assert doc.title is None
    assert doc.tags == ()
    assert doc.metadata == {}


def test_utf16_text_with_a_bom_is_text() -> None:
    doc = parse_document("Nghỉ phép năm".encode("utf-16"), "a.txt")
    assert doc.sections[0].text == "Nghỉ phép năm"


# --- Markdown --------------------------------------------------------------------------


def test_markdown_front_matter_liquid_and_html() -> None:
    source = textwrap.dedent(
        """\
        ---
        title: Leave policy
        effective_date: 2024-07-01
        tags: [leave, benefits]
        owner: People Ops
        version: 3
        draft: false
        redirect_from:
          - /old/
        ---
        Intro for {{ site.name }}.
        {% comment %}
        Internal note: do not publish.
        {% endcomment %}
        <!-- hidden -->
        {% include "banner.html" %}

        # Leave

        {% alert "Heads up" %}
        Ask <strong>early</strong>.
        {% endalert %}

        ## Annual leave

        See the [calendar]({% page "/calendar/" %}) and [OPM](https://www.opm.gov).
        {% raw %}{% page "/x/" %}{% endraw %}



        Ask in {% slack_channel "people-ops" %}.

        ```bash
        # not a heading
        ```

        ## Sick leave
        Call in.
        """
    ).encode()
    doc = parse_document(source, "leave.md")
    assert doc.kind is DocumentKind.MARKDOWN
    assert doc.title == "Leave policy"
    assert doc.effective_date == datetime.date(2024, 7, 1)
    assert doc.tags == ("leave", "benefits")
    assert doc.metadata == {"owner": "People Ops", "version": "3", "draft": "false"}
    by_path = {section.heading_path: section.text for section in doc.sections}
    assert list(by_path) == [(), ("Leave",), ("Leave", "Annual leave"), ("Leave", "Sick leave")]
    assert by_path[()] == "Intro for ."
    assert by_path[("Leave",)] == "Heads up\n\nAsk early."
    annual = by_path[("Leave", "Annual leave")]
    assert "See the calendar and [OPM](https://www.opm.gov)." in annual
    assert "Ask in #people-ops." in annual
    assert "# not a heading" in annual
    assert "\n\n\n" not in annual
    everything = "\n".join(by_path.values())
    for leftover in ("{%", "%}", "{{", "}}", "<!--", "<strong>", "Internal note"):
        assert leftover not in everything


def test_markdown_invalid_front_matter_is_ignored() -> None:
    source = b"---\ntitle: [unclosed\ndate: 2024-01-01\n---\n# Real title\n\nBody text.\n"
    doc = parse_document(source, "x.md")
    assert doc.title == "Real title"
    assert doc.effective_date is None
    assert doc.metadata == {}
    assert doc.sections == [Section(text="Body text.", heading_path=("Real title",))]


def test_markdown_setext_headings_and_date_field() -> None:
    source = (
        b"---\ndate: '2023-05-06'\ntags: hr, onboarding\n---\n"
        b"Onboarding\n==========\n\nDay one.\n\nLaptop\n------\nPick it up.\n"
    )
    doc = parse_document(source, "x.md")
    assert doc.effective_date == datetime.date(2023, 5, 6)
    assert doc.tags == ("hr", "onboarding")
    assert doc.title == "Onboarding"
    assert [s.heading_path for s in doc.sections] == [("Onboarding",), ("Onboarding", "Laptop")]


def test_markdown_with_only_front_matter_is_empty() -> None:
    error = _parse_error(b"---\ntitle: Moved\nredirect_to: /elsewhere/\n---\n", "x.md")
    assert error.code == "EMPTY_FILE"


def test_real_18f_handbook_page() -> None:
    path = HANDBOOK / "travel-and-leave" / "overtime.md"
    doc = parse_document(path.read_bytes(), path.name)
    assert doc.kind is DocumentKind.MARKDOWN
    assert doc.title == "Compensation for working extra hours"
    assert "keywords" in doc.metadata
    assert "questions" not in doc.metadata  # a list: skipped
    paths = [section.heading_path for section in doc.sections]
    assert () in paths
    assert (
        "Overtime and Compensatory (Comp) time",
        "Overtime, depending on your salary level",
    ) in (paths)
    assert ("Credit hours, in flexible work schedules", "Credit hours example") in paths
    for section in doc.sections:
        assert "{%" not in section.text
        assert "{{" not in section.text
        assert "<a " not in section.text
    intro = doc.sections[0].text
    assert "leave comparison chart" in intro
    # Links to other handbook pages lose their (Liquid) target but keep their words.
    assert "manually request these hours in HR Links before using them" in intro


# Every Liquid tag the whole 18F handbook uses; the fixture pages hold them all.
HANDBOOK_LIQUID_TAGS = {
    "alert", "comment", "download", "image", "image_with_class", "include", "link",
    "page", "raw", "slack_channel", "usa", "uswds_icon",
}  # fmt: skip


def test_handbook_pages_have_no_liquid_left() -> None:
    pages = sorted(HANDBOOK.rglob("*.md"))
    sources = "\n".join(path.read_text(encoding="utf-8") for path in pages)
    assert set(re.findall(r"\{%-?\s*(\w+)", sources)) >= HANDBOOK_LIQUID_TAGS
    for construct in ("{{", "<!--", "redirect_to:"):
        assert construct in sources, construct
    parsed = 0
    codes: list[str] = []
    for path in pages:
        try:
            doc = parse_document(path.read_bytes(), path.name)
        except ParseError as error:
            codes.append(error.code)
            continue
        parsed += 1
        assert doc.title, path
        for section in doc.sections:
            for token in ("{%", "%}", "{{", "}}", "<!--"):
                assert token not in section.text, (path, token)
    redirects = list((HANDBOOK / "redirects").glob("*.md"))
    assert redirects
    assert parsed == len(pages) - len(redirects)
    # redirect-only pages: front matter, no body
    assert codes == ["EMPTY_FILE"] * len(redirects)


# --- chunking -------------------------------------------------------------------------


def _token_count(text: str) -> int:
    from llama_index.core.utils import get_tokenizer

    return len(get_tokenizer()(text))


def _long_doc() -> ParsedDocument:
    sentences = " ".join(f"Rule {n} gives {n + 10} days." for n in range(200))
    return ParsedDocument(
        kind=DocumentKind.MARKDOWN,
        sections=[
            Section(text="Short intro.", heading_path=()),
            Section(text=sentences, heading_path=("Leave", "Annual leave")),
            Section(text="Call your manager.", heading_path=("Leave", "Sick leave")),
            Section(text="   ", heading_path=("Empty",)),
        ],
        title="Leave",
        effective_date=None,
        tags=(),
        metadata={},
    )


def test_chunks_are_bounded_overlap_and_stay_in_their_section() -> None:
    doc = _long_doc()
    chunks = chunk_document(doc, chunk_size=64, chunk_overlap=16)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert chunks[0] == Chunk(text="Short intro.", heading_path=(), page=None, ordinal=0)
    assert chunks[-1].text == "Call your manager."
    assert chunks[-1].heading_path == ("Leave", "Sick leave")
    long_chunks = [c for c in chunks if c.heading_path == ("Leave", "Annual leave")]
    assert len(long_chunks) > 10
    for chunk in chunks:
        assert chunk.text
        assert chunk.text == chunk.text.strip()
        # SentenceSplitter sums per-sentence token counts; a seam may shift one token.
        assert _token_count(chunk.text) <= 64 + 2
        # Every chunk is a piece of exactly one section: nothing crosses a heading.
        owners = [s for s in doc.sections if chunk.text in s.text]
        assert [s.heading_path for s in owners] == [chunk.heading_path]
    for before, after in itertools.pairwise(long_chunks):
        first_sentence = after.text.split(". ")[0] + "."
        assert before.text.endswith(first_sentence) or f"{first_sentence} " in before.text, (
            "consecutive chunks should overlap"
        )


def test_pdf_chunks_keep_their_page_and_never_span_pages() -> None:
    doc = ParsedDocument(
        kind=DocumentKind.PDF,
        sections=[
            Section(text="Điều 1. Người lao động làm việc 8 giờ mỗi ngày.", page=1),
            Section(text="Điều 2. Người lao động được nghỉ 12 ngày mỗi năm.", page=2),
        ],
        title=None,
        effective_date=None,
        tags=(),
        metadata={},
    )
    chunks = chunk_document(doc)
    assert [(c.page, c.ordinal) for c in chunks] == [(1, 0), (2, 1)]
    assert chunks[1].text.startswith("Điều 2.")


def test_chunking_real_documents() -> None:
    doc = parse_document(_pdf_bytes())
    chunks = chunk_document(doc, chunk_size=512, chunk_overlap=64)
    assert {c.page for c in chunks} == set(range(1, len(EXCERPT_PAGES) + 1))
    assert all(_token_count(c.text) <= 512 for c in chunks)
    pages = [c.page or 0 for c in chunks]
    assert pages == sorted(pages)


def test_chunking_rejects_bad_sizes() -> None:
    doc = _long_doc()
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_document(doc, chunk_size=64, chunk_overlap=64)
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_document(doc, chunk_size=0, chunk_overlap=0)


def test_chunking_needs_no_network(tmp_path: Path) -> None:
    """A fresh process with sockets disabled can chunk: the tokenizer comes from the
    tiktoken cache bundled in llama-index-core and no NLTK data is needed."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled in this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from ezhr_graphql.rag.parsing import chunk_document, parse_document

        doc = parse_document(("Nghỉ phép năm. " * 400).encode(), "a.txt")
        chunks = chunk_document(doc, chunk_size=128, chunk_overlap=16)
        assert len(chunks) > 5, len(chunks)
        print("ok", len(chunks))
        """
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "NLTK_DATA"}
    }
    env["TMPDIR"] = str(tmp_path)  # no tiktoken cache left over from other runs
    repo_root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo_root,
        env={**env, "PYTHONPATH": str(repo_root)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok")
    assert "download" not in result.stderr.lower()
