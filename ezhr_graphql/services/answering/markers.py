"""Keeping a generated reply's markers true to its citations.

A marker ``[n]`` refers to ``citations[n - 1]`` of the message. A model may cite a
passage it was not given ("[7]" with four citations) or group several ("[1, 3]"): as
the reply streams, each marker is read whole (a marker split over tokens is held back
until it closes), markers beyond the citations are dropped (with the space after them
when a space came before), and the others are written one a bracket ("[1][3]").
Brackets holding anything else are text, left as they are. Nothing else is held back:
the text goes out as the model wrote it.
"""

from __future__ import annotations

import re

_INSIDE = re.compile(r"\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*")
# What a marker may hold before it closes.
_OPENING = re.compile(r"\s*(?:\d{1,3}\s*(?:[,;]\s*\d{0,3}\s*)*)?")
_LONGEST = 24


class MarkerFilter:
    def __init__(self, citations: int) -> None:
        self.citations = citations
        # Held back: an open bracket and what followed it so far.
        self._marker: str | None = None
        # The last character released was a space.
        self._spaced = False
        # A marker was dropped after a space: the spaces after it go too.
        self._skip_spaces = False

    def feed(self, text: str) -> str:
        """The next piece of the reply; what can be released now."""
        out: list[str] = []
        for char in text:
            released = self._take(char)
            if released:
                out.append(released)
                self._spaced = released[-1].isspace()
        return "".join(out)

    def finish(self) -> str:
        """The reply ended: what is still held back, as it was."""
        held, self._marker = self._marker or "", None
        return held

    def _take(self, char: str) -> str:
        if self._marker is not None:
            return self._in_marker(char)
        if self._skip_spaces and char.isspace():
            return ""
        self._skip_spaces = False
        if char == "[":
            self._marker = "["
            return ""
        return char

    def _in_marker(self, char: str) -> str:
        assert self._marker is not None
        if char == "]":
            inside, self._marker = self._marker[1:], None
            return self._closed(inside)
        self._marker += char
        if len(self._marker) > _LONGEST or not _OPENING.fullmatch(self._marker[1:]):
            # Not a marker: text, released as it came.
            held, self._marker = self._marker, None
            return held
        return ""

    def _closed(self, inside: str) -> str:
        if not inside.strip() or not _INSIDE.fullmatch(inside):
            return f"[{inside}]"
        numbers = [int(n) for n in re.findall(r"\d+", inside)]
        kept = list(dict.fromkeys(n for n in numbers if 1 <= n <= self.citations))
        if not kept:
            self._skip_spaces = self._spaced
            return ""
        return "".join(f"[{n}]" for n in kept)
