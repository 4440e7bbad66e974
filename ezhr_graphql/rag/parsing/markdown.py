"""Markdown uploads (with YAML front matter, Jekyll Liquid and inline HTML).

Markup is stripped to plain text; ATX and setext headings cut sections; links to other
pages of the same site keep only their words.
"""

from __future__ import annotations

import re
from typing import Any

from ezhr_graphql.rag.parsing.detect import FRONT_MATTER_RE
from ezhr_graphql.rag.parsing.frontmatter import (
    front_effective_date,
    front_metadata,
    front_tags,
    load_front_matter,
)
from ezhr_graphql.rag.parsing.markup import strip_markup
from ezhr_graphql.rag.parsing.text import SectionBuilder, no_text, normalise, squeeze_spaces, tidy
from ezhr_graphql.rag.parsing.types import DocumentKind, ParsedDocument

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


def parse_markdown(text: str) -> ParsedDocument:
    text = normalise(text)
    front: dict[str, Any] = {}
    match = FRONT_MATTER_RE.match(text)
    if match:
        front = load_front_matter(match.group(1))
        text = text[match.end() :]

    builder = SectionBuilder()
    _split_markdown(_clean_markdown(text), builder)
    builder.flush()

    title = _front_title(front) or builder.first_heading
    if not builder.sections:
        raise no_text("document")
    date_key, effective_date = front_effective_date(front)
    tags = front_tags(front)
    metadata = front_metadata(front, exclude={"title", "tags", *([date_key] if date_key else [])})
    return ParsedDocument(
        kind=DocumentKind.MARKDOWN,
        sections=builder.sections,
        title=title,
        effective_date=effective_date,
        tags=tags,
        metadata=metadata,
    )


def _front_title(front: dict[str, Any]) -> str | None:
    value = front.get("title")
    if value is None or isinstance(value, dict | list):
        return None
    title = squeeze_spaces(_inline_plain(strip_markup(normalise(str(value)))))
    return title or None


def _clean_markdown(text: str) -> str:
    text = strip_markup(text)
    text = _KRAMDOWN_ATTR_RE.sub("", text)
    text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _MD_LINK_RE.sub(_relative_link_to_text, text)
    text = _EMPTY_FENCE_RE.sub("", text)  # code samples that held only Liquid
    lines = [re.sub(r"(?<=\S)[ \t]{2,}", " ", line).rstrip() for line in text.split("\n")]
    return tidy("\n".join(lines))


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


def _split_markdown(text: str, builder: SectionBuilder) -> None:
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
