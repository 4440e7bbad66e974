"""Jekyll Liquid and inline HTML in Markdown sources, reduced to the text they show.

Also home to ``BLOCK_TAGS``, the HTML elements that break a line, which the HTML parser
shares.
"""

from __future__ import annotations

import html
import re

from ezhr_graphql.rag.parsing.text import squeeze_spaces

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

# Elements that start a new line of text (Markdown's inline HTML and HTML pages alike).
BLOCK_TAGS = frozenset(
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


def strip_markup(text: str) -> str:
    """Remove Liquid and HTML (keeping the text inside elements); unescape entities."""
    text = _HTML_COMMENT_RE.sub("", text)
    text = _LIQUID_COMMENT_RE.sub("", text)
    text = _LIQUID_TAG_RE.sub(_liquid_tag, text)
    text = _LIQUID_OUTPUT_RE.sub("", text)
    text = _LIQUID_STRAY_RE.sub("", text)
    text = _HTML_DROP_RE.sub("", text)
    text = _HTML_HEADING_RE.sub(
        lambda m: f"\n\n{'#' * int(m.group(1))} {squeeze_spaces(m.group(2))}\n\n", text
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
            in_block = bool(opening and opening.group(1).lower() in BLOCK_TAGS | {"td", "th"})
        if in_block:
            lines[index] = line.lstrip()
    return "\n".join(lines)


def _html_tag_replacement(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name in BLOCK_TAGS:
        return "\n"
    if name in ("td", "th"):
        return " " if match.group(0).startswith("</") else ""
    if name in _INLINE_TAGS:
        return ""
    return match.group(0)  # not HTML (e.g. "<project name>"): sanitise keeps its words
