"""How a reply is checked against a golden question: which cited document is the
expected source, whether the reply holds the key phrase, and which of its numbers no
quoted passage holds.

- **Sources.** A document is the expected source when the expected name, compared
  case-insensitively, is its file name or a trailing part of its stored path at a
  ``/`` (``leave.md`` names ``travel-and-leave/leave.md``, not ``sick-leave.md``),
  or is its title (case-insensitively, whitespace collapsed).
- **Key phrases.** Both texts are compared in Unicode NFC, case-folded, without the
  reply's ``[n]`` citation markers and Markdown ``*``/`` ` `` marks. Diacritics count
  (``nghỉ`` is not ``nghi``). Whitespace does not: the key's words must follow one
  another with any whitespace, or none, between them. The phrase must not start or
  end inside a longer word or number (``12 weeks`` is not found in ``112 weeks``).
- **Numbers.** A number is a run of digits, with ``.`` or ``,`` between digit groups
  (``1,500``, ``07``, ``2.5``). It is compared by its digits alone, leading zeros
  dropped, so ``1,500`` = ``1500`` = ``1.500`` and ``05`` = ``5`` (the price: ``2.5``
  equals ``25``). Citation markers and the numbers of numbered list items are not
  numbers of the reply. A reply's number is supported when one of its citations'
  quotes holds it: the quotes the client shows, not the whole passages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CITATION_MARK = re.compile(r"\[\d+(?:\s*[,;\u2013-]\s*\d+)*\]")
_LIST_MARK = re.compile(r"^[ \t]*\d+[.)][ \t]+", re.MULTILINE)
_MARKUP = re.compile(r"[*`]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACE = re.compile(r"\s+")


def folded(text: str) -> str:
    """``text`` in NFC, case-folded (casefold may decompose: composed again)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _plain(text: str) -> str:
    """A reply as its key phrases are looked for in it."""
    return _MARKUP.sub("", _CITATION_MARK.sub(" ", folded(text)))


def contains_key(reply: str, keys: Iterable[str]) -> bool:
    """Whether ``reply`` holds any of the key phrases ``keys``."""
    text = _plain(reply)
    for key in keys:
        words = folded(key).split()
        if not words:
            continue
        pattern = r"(?<!\w)" + r"\s*".join(re.escape(w) for w in words) + r"(?!\w)"
        # A phrase starting or ending with punctuation ("$191,900", "50%") is bounded
        # by that mark itself.
        if not words[0][0].isalnum():
            pattern = pattern.removeprefix(r"(?<!\w)")
        if not words[-1][-1].isalnum():
            pattern = pattern.removesuffix(r"(?!\w)")
        if re.search(pattern, text):
            return True
    return False


def canonical_number(raw: str) -> str:
    """A number's digits, separators and leading zeros dropped (``"0"`` stays)."""
    return re.sub(r"\D", "", raw).lstrip("0") or "0"


def numbers(text: str, *, reply: bool = False) -> list[str]:
    """The numbers of ``text`` as written, in order; in a reply, citation markers
    and the numbers of numbered list items left out."""
    text = unicodedata.normalize("NFC", text)
    if reply:
        text = _LIST_MARK.sub("", _CITATION_MARK.sub(" ", text))
    return _NUMBER.findall(text)


def unquoted_numbers(reply: str, quotes: Iterable[str]) -> list[str]:
    """The numbers of ``reply`` (as written, each once) that none of ``quotes`` holds."""
    quoted = {canonical_number(n) for quote in quotes for n in numbers(quote)}
    missing: list[str] = []
    for number in numbers(reply, reply=True):
        if canonical_number(number) not in quoted and number not in missing:
            missing.append(number)
    return missing


def _path(name: str) -> str:
    return folded(name.strip().replace("\\", "/")).strip("/")


def source_matches(expected: str, filename: str, title: str) -> bool:
    """Whether a document stored as ``filename`` with ``title`` is ``expected``."""
    wanted = _path(expected)
    if not wanted:
        return False
    stored = _path(filename)
    if stored == wanted or stored.endswith("/" + wanted):
        return True
    return bool(title.strip()) and _SPACE.sub(" ", folded(title).strip()) == _SPACE.sub(
        " ", folded(expected).strip()
    )
