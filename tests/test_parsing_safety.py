"""Parsing never loses real text.

A promise of ezhr_graphql.rag.parsing that uploads once broke: a PDF with a text layer
is never reported as scanned, and only lines that run across pages (headers, footers,
page numbers) are stripped from it.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from ezhr_graphql.rag.parsing import (
    DocumentKind,
    ParsedDocument,
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
