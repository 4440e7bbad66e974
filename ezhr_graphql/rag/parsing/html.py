"""HTML uploads: the text of the page body, sectioned at its ``h1``-``h6`` headings.

Scripts, styles and navigation are skipped; lists become "- " lines and table rows
"cell | cell" lines.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ezhr_graphql.rag.parsing.markup import BLOCK_TAGS
from ezhr_graphql.rag.parsing.text import SectionBuilder, no_text, normalise, squeeze_spaces
from ezhr_graphql.rag.parsing.types import DocumentKind, ParsedDocument, ParseError, ParseErrorCode

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
        self.builder = SectionBuilder()
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
        elif tag in ("br", "hr") or tag in BLOCK_TAGS:
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
            self.title = squeeze_spaces(normalise("".join(self._title_parts))) or None
            self._title_parts = None
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" and self._heading:
            level, parts = self._heading
            self._heading = None
            self.builder.heading(level, normalise("".join(parts)))
        elif tag == "pre":
            self._end_line()
            self._pre = max(0, self._pre - 1)
            self.builder.add("")
        elif tag in _HTML_PARAGRAPH_TAGS:
            self._end_line()
            self.builder.add("")
        elif tag in BLOCK_TAGS:
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
        raw = normalise("".join(self._line))
        self._line = []
        text = raw.rstrip() if keep_spaces else squeeze_spaces(raw)
        if text and text != "-":
            self.builder.add(text)

    def finish(self) -> None:
        self.close()
        if self._heading is not None:
            level, parts = self._heading
            self._heading = None
            self.builder.heading(level, normalise("".join(parts)))
        self._end_line()
        self.builder.flush()


def parse_html(text: str) -> ParsedDocument:
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.finish()
    except (AssertionError, ValueError, RecursionError) as exc:  # pragma: no cover - defensive
        raise ParseError(ParseErrorCode.CORRUPT_FILE, "The HTML could not be read.") from exc
    if not parser.builder.sections:
        raise no_text("page")
    return ParsedDocument(
        kind=DocumentKind.HTML,
        sections=parser.builder.sections,
        title=parser.title or parser.builder.first_heading,
        effective_date=None,
        tags=(),
        metadata={},
    )
