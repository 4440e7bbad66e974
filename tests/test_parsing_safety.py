"""Parsing never loses real text and never hands on markup.

Two promises of ezhr_graphql.rag.parsing that uploads once broke:

- a PDF with a text layer is never reported as scanned, and only lines that run across
  pages (headers, footers, page numbers) are stripped from it;
- the text it produces (section and chunk text, titles, heading paths), which is stored
  and quoted back to employees, is plain text: no HTML tags, however they were written,
  and no links with a ``javascript:``, ``vbscript:`` or ``data:`` URL.
"""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser

import docx
import pytest
from pypdf import PdfReader

from ezhr_graphql.rag.parsing import (
    DocumentKind,
    ParsedDocument,
    chunk_document,
    parse_document,
)
from tests.pdfs import text_pdf

# --- a PDF with text is never "scanned" ------------------------------------------------


def _leave_sentence(years: int) -> str:
    return f"Employees with {years} years of service get {10 + 2 * years} days of annual leave."


def _page_texts(doc: ParsedDocument) -> dict[int | None, str]:
    return {section.page: section.text for section in doc.sections}


def test_text_pdf_reads_back() -> None:
    lines = ["Leave (annual) \\ sick", "Café déjà vu"]
    reader = PdfReader(io.BytesIO(text_pdf([lines, ["Second page"]])), strict=True)
    assert [page.extract_text() for page in reader.pages] == ["\n".join(lines), "Second page"]


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_one_sentence_per_page_is_kept(count: int) -> None:
    """Sentences that differ only in their numbers are body text, not running lines."""
    sentences = [_leave_sentence(years) for years in range(1, count + 1)]
    doc = parse_document(text_pdf([[sentence] for sentence in sentences]), "leave.pdf")
    assert doc.kind is DocumentKind.PDF
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_a_sentence_whose_number_follows_the_page_is_kept() -> None:
    # "1 years" on page 1, "2 years" on page 2...: alike, to a rule that compares lines
    # with their numbers blanked out, to "Page 1", "Page 2". It is the pages' only text.
    sentences = [f"Employees with {page} years of service get annual leave." for page in (1, 2, 3)]
    doc = parse_document(text_pdf([[sentence] for sentence in sentences]), "leave.pdf")
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_the_same_sentence_on_every_page_is_not_a_scan() -> None:
    sentence = "Employees get 12 days of annual leave."
    doc = parse_document(text_pdf([[sentence]] * 3), "leave.pdf")
    assert [section.text for section in doc.sections] == [sentence] * 3


def test_a_running_header_goes_and_distinct_sentences_stay() -> None:
    header = "ACME Corp - Employee Handbook"
    sentences = ["Book leave in the portal.", "Sick leave is paid.", "Leave does not carry over."]
    doc = parse_document(text_pdf([[header, sentence] for sentence in sentences]), "hb.pdf")
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_a_running_header_goes_and_sentences_differing_in_numbers_stay() -> None:
    header = "ACME Corp - Employee Handbook"
    sentences = [_leave_sentence(years) for years in (1, 2, 3, 4)]
    doc = parse_document(text_pdf([[header, sentence] for sentence in sentences]), "hb.pdf")
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_page_number_footers_go() -> None:
    header = "ACME Corp - Employee Handbook"
    sentences = [_leave_sentence(years) for years in (1, 2, 3, 4)]
    pages = [
        [header, sentence, f"Page {page} of 4"] for page, sentence in enumerate(sentences, start=1)
    ]
    doc = parse_document(text_pdf(pages), "hb.pdf")
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_page_numbers_of_an_excerpt_go() -> None:
    # Pages 1, 2, 3 and 14 of a longer document: the number goes up, not one by one.
    sentences = [_leave_sentence(years) for years in (1, 2, 3, 4)]
    pages = [[f"Trang {n}", s] for n, s in zip([1, 2, 3, 14], sentences, strict=True)]
    doc = parse_document(text_pdf(pages), "nq.pdf")
    assert _page_texts(doc) == dict(enumerate(sentences, start=1))


def test_a_numbered_line_that_is_all_its_page_says_is_kept() -> None:
    header = "ACME Corp - Employee Handbook"
    sentences = [f"Employees with {n} years of service get annual leave." for n in (1, 2, 3)]
    pages = [[header, sentence] for sentence in sentences]
    pages.append([header, "Unused leave does not carry over.", "It lapses on 31 March."])
    doc = parse_document(text_pdf(pages), "hb.pdf")
    assert _page_texts(doc) == {
        **dict(enumerate(sentences, start=1)),
        4: "Unused leave does not carry over.\nIt lapses on 31 March.",
    }


def test_a_line_on_one_page_only_is_kept() -> None:
    # "Page 3" looks like a page number, but only page 3 has it: it is the page's text.
    header = "ACME Corp - Employee Handbook"
    pages = [[header, _leave_sentence(years)] for years in (1, 2, 3, 4)]
    pages[2] = [header, "Page 3", _leave_sentence(3)]
    doc = parse_document(text_pdf(pages), "hb.pdf")
    assert _page_texts(doc)[3] == f"Page 3\n{_leave_sentence(3)}"
    assert _page_texts(doc)[4] == _leave_sentence(4)


# --- stored and quoted text is plain text ----------------------------------------------


class _MarkupFinder(HTMLParser):
    """Everything an HTML parser would take for markup rather than text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        self.found.append(f"</{tag}>")

    def handle_comment(self, data: str) -> None:
        self.found.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.found.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.found.append(f"<?{data}>")


_TAG_RE = re.compile(r"<[/!?]?[A-Za-z][^>]*>|<!--|<\?")
_BAD_SCHEME_RE = re.compile(r"(?:javascript|vbscript|data):", re.I)


def _markup_in(text: str) -> list[str]:
    finder = _MarkupFinder()
    finder.feed(text)
    finder.close()
    return finder.found + _TAG_RE.findall(text)


def _texts(doc: ParsedDocument) -> list[str]:
    """Every piece of text a parsed upload hands on: what is stored and quoted."""
    texts = [section.text for section in doc.sections]
    texts += [heading for section in doc.sections for heading in section.heading_path]
    texts += [chunk.text for chunk in chunk_document(doc, chunk_size=64, chunk_overlap=8)]
    texts += [heading for chunk in chunk_document(doc) for heading in chunk.heading_path]
    return [*texts, doc.title or ""]


def _assert_plain(doc: ParsedDocument) -> str:
    """Fail on any markup or script link in ``doc``; return its section text."""
    for text in _texts(doc):
        assert _markup_in(text) == [], text
        compact = re.sub(r"[\s\x00-\x1f]+", "", html.unescape(text))
        assert not _BAD_SCHEME_RE.search(compact), text
    return "\n".join(section.text for section in doc.sections)


def _docx_bytes(heading: str, paragraph: str) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.mark.parametrize(
    ("filename", "source"),
    [
        pytest.param(
            "leave.md",
            f"# Leave {ESCAPED_SCRIPT}\n\nBook early {ESCAPED_SCRIPT} please.\n",
            id="markdown",
        ),
        pytest.param(
            "leave.html",
            f"<html><head><title>Leave {ESCAPED_SCRIPT}</title></head><body>"
            f"<h1>Leave {ESCAPED_SCRIPT}</h1><p>Book early {ESCAPED_SCRIPT} please.</p>"
            "<p>x &lt;img src=x onerror=alert(1)&gt; y</p></body></html>",
            id="html",
        ),
    ],
)
def test_entities_never_become_tags(filename: str, source: str) -> None:
    # Decoded, "&lt;script&gt;" is a tag like any other: it goes, its text stays.
    doc = parse_document(source.encode(), filename)
    assert _assert_plain(doc).startswith("Book early alert(1) please.")
    assert doc.title == "Leave alert(1)"
    assert doc.sections[0].heading_path == ("Leave alert(1)",)


@pytest.mark.parametrize(
    ("filename", "source", "expected"),
    [
        pytest.param(
            "leave.txt",
            "Book early <script>alert(1)</script> please <b>now</b>.",
            "Book early alert(1) please now.",
            id="plain-text",
        ),
        pytest.param(
            "leave.md",
            "# Leave\n\nBook early <img src=x onerror=alert(1)> please <x-y/>now.",
            "Book early please now.",
            id="markdown",
        ),
        pytest.param(
            "leave.txt",
            "Book early <!-- note --> please <?php echo 1 ?> and </ 5> now.",
            "Book early please and now.",
            id="comments-and-declarations",
        ),
        pytest.param(
            "leave.txt",
            "Line one<br>line two<p>line three</p>",
            "Line one\nline two\nline three",
            id="block-tags-break-lines",
        ),
        pytest.param(
            "leave.txt",
            "Book early <<script>script>alert(1)<</script>/script> please.",
            "Book early alert(1) please.",
            id="nested-plain-text",
        ),
        pytest.param(
            "leave.md",
            "# Leave\n\nBook early <scr<b>ipt>alert(1)</scr</b>ipt> please.",
            "Book early alert(1) please.",
            id="split-name",
        ),
        pytest.param(
            "leave.md",
            "# Leave\n\nBook early &lt;&lt;b&gt;b&gt;x&lt;/b&gt; please.",
            "Book early x please.",
            id="nested-entities",
        ),
        pytest.param(
            "leave.txt",
            "Book early " + "<" * 50 + "b" + ">" * 50 + " please.",
            "Book early " + "<" * 49 + ">" * 49 + " please.",
            id="deeply-nested",
        ),
    ],
)
def test_tags_are_removed_even_when_removal_makes_new_ones(
    filename: str, source: str, expected: str
) -> None:
    assert _assert_plain(parse_document(source.encode(), filename)) == expected


def test_placeholders_keep_their_words() -> None:
    # Not HTML elements: "<project name>" is a placeholder, "<jane@...>" an address.
    source = (
        "# Deploy to <your space>\n\n"
        "Run `cf push <app-name>` against https://<site>.gov, ask <jane@example.com>.\n"
    )
    doc = parse_document(source.encode(), "deploy.md")
    assert _assert_plain(doc) == (
        "Run `cf push app-name` against https://site.gov, ask jane@example.com."
    )
    assert doc.sections[0].heading_path == ("Deploy to your space",)


def test_front_matter_is_plain() -> None:
    source = (
        "---\n"
        'title: "Leave &lt;script&gt;alert(1)&lt;/script&gt;"\n'
        'tags: ["<b>hr</b>", leave]\n'
        'owner: "<img src=x onerror=alert(1)>People Ops"\n'
        "---\n\n# Leave\n\nBook early.\n"
    )
    doc = parse_document(source.encode(), "leave.md")
    assert doc.title == "Leave alert(1)"
    assert doc.tags == ("hr", "leave")
    assert doc.metadata == {"owner": "People Ops"}


def test_double_escaped_markup_is_decoded_once_and_stays_text() -> None:
    # "&amp;lt;" is how a page shows the characters "&lt;": decoding it once, as a
    # browser would, gives the text the author meant; it is not a tag and is kept.
    double = "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"
    for filename, source in [
        ("leave.md", f"# Leave\n\nSee {double} here.\n"),
        ("leave.html", f"<html><body><p>See {double} here.</p></body></html>"),
    ]:
        text = _assert_plain(parse_document(source.encode(), filename))
        assert "See &lt;script&gt;alert(1)&lt;/script&gt; here." in text


def test_plain_text_is_not_entity_decoded() -> None:
    doc = parse_document(b"Write &lt;b&gt; for bold. AT&amp;T.\n", "notes.txt")
    assert doc.kind is DocumentKind.TEXT
    assert _assert_plain(doc) == "Write &lt;b&gt; for bold. AT&amp;T."


def test_docx_text_is_plain() -> None:
    data = _docx_bytes("Leave <b>now</b>", "Book early <script>alert(1)</script> please.")
    doc = parse_document(data, "leave.docx")
    assert _assert_plain(doc) == "Book early alert(1) please."
    assert doc.sections[0].heading_path == ("Leave now",)


def test_pdf_text_is_plain() -> None:
    pdf = text_pdf([["Book early <img src=x onerror=alert(1)> please."]])
    assert _assert_plain(parse_document(pdf, "leave.pdf")) == "Book early please."


SCRIPT_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "jav&#9;ascript:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "jav&amp;#x09;ascript:alert(1)",
    "javascript\\:alert(1)",
    "java script:alert(1)",
    "<javascript:alert(1)>",
    "javascript:alert(1) 'title'",
    "VBScript:MsgBox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
]


@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_script_links_keep_only_their_text(url: str) -> None:
    source = f"# Leave\n\nPlease [click here]({url}) and ![a picture]({url}) today.\n"
    doc = parse_document(source.encode(), "leave.md")
    text = _assert_plain(doc)
    assert "Please click here and a picture today." in text


def test_script_link_definitions_are_dropped() -> None:
    source = "# Leave\n\nPlease [click here][go] today.\n\n[go]: javascript:alert(1)\n"
    text = _assert_plain(parse_document(source.encode(), "leave.md"))
    assert "Please [click here][go] today." in text


def test_script_links_in_plain_text_and_html() -> None:
    plain = parse_document(b"Please [click]( javascript:alert(1)) today.\n", "notes.txt")
    assert plain.kind is DocumentKind.TEXT
    assert _assert_plain(plain) == "Please click today."
    page = b"<html><body><p>Please <a href='javascript:alert(1)'>click</a>.</p></body></html>"
    assert _assert_plain(parse_document(page, "page.html")) == "Please click."


def test_ordinary_links_are_untouched() -> None:
    source = "# Leave\n\nSee [the portal](https://hr.example.com/leave) or [FAQ](faq.md).\n"
    text = _assert_plain(parse_document(source.encode(), "leave.md"))
    assert "See [the portal](https://hr.example.com/leave) or FAQ." in text


ORDINARY = "If a < b and c > d, AT&T and R&D staff get <= 5 days; x<5 and y>2 too."


@pytest.mark.parametrize(
    ("filename", "source"),
    [
        pytest.param("notes.txt", ORDINARY, id="plain-text"),
        pytest.param("notes.md", f"# Leave\n\n{ORDINARY}\n", id="markdown"),
        pytest.param(
            "notes.md",
            "# Leave\n\nIf a &lt; b and c &gt; d, AT&amp;T and R&D staff get "
            "&lt;= 5 days; x<5 and y>2 too.\n",
            id="markdown-entities",
        ),
        pytest.param("notes.html", f"<html><body><p>{ORDINARY}</p></body></html>", id="html"),
    ],
)
def test_ordinary_text_survives(filename: str, source: str) -> None:
    doc = parse_document(source.encode(), filename)
    assert ORDINARY in _assert_plain(doc)
    assert any(ORDINARY in chunk.text for chunk in chunk_document(doc))
