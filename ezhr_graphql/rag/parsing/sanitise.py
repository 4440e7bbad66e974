"""The last pass over every parsed document: what it hands on is plain text.

Section text, heading paths and titles are stored, and quoted back to employees as
citations; whatever shows them must never find markup in them. HTML and Markdown
parsing decode character references exactly once, as a browser would (plain text, Word
and PDF text have none), so ``&amp;lt;b&amp;gt;`` becomes the text ``&lt;b&gt;``, not a
tag. This pass then takes out of the decoded text anything an HTML parser would read as
a tag, and Markdown links to ``javascript:``, ``vbscript:`` or ``data:`` URLs (keeping
their words). Text such as "a < b", "AT&T" or "<= 5 days" is not markup and stays.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import replace

from ezhr_graphql.rag.parsing.markup import BLOCK_TAGS
from ezhr_graphql.rag.parsing.text import no_text, squeeze_spaces, tidy
from ezhr_graphql.rag.parsing.types import ParsedDocument

# HTML element names, current and obsolete, that browsers build elements for. A tag with
# one of these names is removed, as are end tags and self-closing tags ("<x-y/>"); other
# "tags" are placeholders such as "<project name>" or "<someone@example.com>", and keep
# their words without the angle brackets.
_ELEMENTS = frozenset(
    """
    a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound
    big blink blockquote body br button canvas caption center cite code col colgroup data
    datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption figure
    font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe
    image img input ins isindex kbd keygen label legend li link listing main map mark
    marquee math menu menuitem meta meter multicol nav nextid nobr noembed noframes
    noscript object ol optgroup option output p param picture plaintext portal pre progress
    q rb rp rt rtc ruby s samp script search section select slot small source spacer span
    strike strong style sub summary sup svg table tbody td template textarea tfoot th thead
    time title tr track tt u ul var video wbr xmp
    """.split()  # noqa: SIM905 - as a list literal, one name a line
)
# What an HTML parser reads as markup: "<" and a letter opens a start tag, "</" an end
# tag, "<!" a comment or declaration, "<?" a processing instruction; each runs to ">".
# "[^<>]" keeps matches apart (and the scan linear); the passes below catch nesting.
_MARKUP_RE = re.compile(
    r"(?:<(?P<end>/?)(?P<name>[A-Za-z][^\s/<>]*)(?P<rest>[^<>]*)>|<[/!?][^<>]*>)(?P<after>[ \t]?)"
)
_TAG_OPEN_RE = re.compile(r"<+(?=[A-Za-z/!?])")
# A Markdown link or image: [text](destination), the destination holding at most one
# level of parentheses ("javascript:alert(1)"); and a link reference definition.
_LINK_RE = re.compile(r"!?\[([^\[\]\n]*)\]\(((?:[^()\n]|\([^()\n]*\))*)\)")
_LINK_DEFINITION_RE = re.compile(r"^ {0,3}\[[^\[\]\n]+\]:[ \t]*\n?[ \t]*(\S.*)$", re.M)
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
_MAX_PASSES = 8


def plain_document(doc: ParsedDocument) -> ParsedDocument:
    """``doc`` with markup and script links taken out of all its text."""
    sections = []
    for section in doc.sections:
        text = plain_text(section.text)
        if text:
            path = tuple(filter(None, map(_plain_line, section.heading_path)))
            sections.append(replace(section, text=text, heading_path=path))
    if not sections:
        raise no_text("file")
    tags = tuple(dict.fromkeys(filter(None, map(_plain_line, doc.tags))))
    metadata = {
        key: value
        for key, value in ((_plain_line(k), plain_text(v)) for k, v in doc.metadata.items())
        if key and value
    }
    title = _plain_line(doc.title or "") or None
    return replace(doc, sections=sections, title=title, tags=tags, metadata=metadata)


def plain_text(text: str) -> str:
    """``text`` without markup or script links (the very same text when it has none)."""
    for passes in range(_MAX_PASSES):
        cleaned = _strip_markup(_drop_script_links(text))
        if cleaned == text:
            return tidy(text) if passes else text
        text = cleaned
    # Markup that keeps making new markup as it is taken out ("<<b>b>") is nested deeper
    # than any document needs: take away every "<" that could still open a tag, and break
    # every link.
    return tidy(_TAG_OPEN_RE.sub("", text).replace("](", "] ("))


def _plain_line(text: str) -> str:
    """A one-line value (title, heading, tag): unchanged unless it held markup."""
    cleaned = plain_text(text)
    return text if cleaned == text else squeeze_spaces(cleaned.replace("\n", " "))


def _strip_markup(text: str) -> str:
    return _MARKUP_RE.sub(_markup_replacement, text)


def _markup_replacement(match: re.Match[str]) -> str:
    name, rest, after = match.group("name", "rest", "after")
    lowered = (name or "").lower()
    if lowered in BLOCK_TAGS:
        return "\n"  # "<p>", "<br>", "</li>": a line break, as a page would show it
    if name and lowered not in _ELEMENTS and not match.group("end") and not rest.endswith("/"):
        return f"{name}{rest}{after}"  # "<project name>": a placeholder; keep its words
    # An element's tag, an end tag, a self-closing tag, a comment, a declaration or a
    # processing instruction goes, leaving one space between the words around it
    # ("early <img src=x> please").
    before = match.string[match.start() - 1 : match.start()]
    return "" if before in ("", " ", "\t", "\n") else after


def _drop_script_links(text: str) -> str:
    text = _LINK_RE.sub(lambda m: m.group(1) if _is_script_url(m.group(2)) else m.group(0), text)
    return _LINK_DEFINITION_RE.sub(lambda m: "" if _is_script_url(m.group(1)) else m.group(0), text)


def _is_script_url(destination: str) -> bool:
    """Whether a link destination would run script, as a browser reads it.

    Markdown renderers decode character references in it and drop backslashes before
    punctuation; browsers ignore tabs and newlines inside a URL and leading spaces and
    controls. So decode (again and again: "&amp;#x09;" is one more render away from a
    tab), and drop every backslash, space, control and format character before looking
    at the scheme. Destinations that never stop decoding count as script.
    """
    for _ in range(_MAX_PASSES):
        decoded = html.unescape(destination)
        if decoded == destination:
            break
        destination = decoded
    else:
        return True
    compact = "".join(
        char
        for char in destination
        if char != "\\" and not char.isspace() and unicodedata.category(char)[0] not in "CZ"
    )
    return compact.lstrip("<").lower().startswith(_SCRIPT_SCHEMES)
