"""Cutting a generated reply where it starts repeating itself.

Small models loop: "The policy is a 20% policy. The policy is a 20% policy. ..." until
the token limit. The guard reads the reply as it streams. A loop is a run of ``span``
consecutive words (lower-cased, punctuation ignored) that the reply already holds; it
starts where that run starts, and everything from there on is dropped, so that what came
before is kept.

So that the loop is never streamed, the guard holds back the words that could be the
start of one: the longest run of last words (fewer than ``span``) that the reply already
held earlier. Words never seen before go out at once; a reply that does not repeat
itself streams with no delay.

``span`` is 8 words for English and 12 for Vietnamese, whose words are syllables: a
list of rules may repeat a six-syllable phrase ("người lao động làm việc ..."), a reply
rarely repeats eight words on its own, and a loop does it at once.
"""

from __future__ import annotations

import re

from ezhr_graphql.services.answering.language import VIETNAMESE

_WORD = re.compile(r"\w+")
SPANS = {"en": 8, VIETNAMESE: 12}


class LoopGuard:
    def __init__(self, span: int = 8) -> None:
        self.span = span
        self.looped = False
        # Text received and not released; it starts at offset ``base`` of the reply.
        self._pending = ""
        self._base = 0
        # How many complete words were read, and where the last span of them start
        # in the reply.
        self._count = 0
        self._starts: list[int] = []
        # Where the next word may start (a word at the end may still be growing).
        self._scan = 0
        # Where each word (lower-cased) was seen, by its index among the words. Runs
        # are found from these rather than kept: a table of every run of 1 to span
        # words cost a reply's run about a KiB per word for as long as it streamed.
        self._seen: dict[str, list[int]] = {}
        # For each earlier place of the last word: how many words the runs ending
        # there and at the last word have in common (at most span).
        self._common: dict[int, int] = {}

    def feed(self, text: str) -> str:
        """Take the next piece of the reply; what can be released now."""
        if self.looped:
            return ""
        self._pending += text
        cut = self._read(final=False)
        if cut is not None:
            return self._stop(cut)
        held = self._held()
        if held:
            return self._release(self._starts[-held])
        # An unfinished word at the end waits for the rest of it.
        tail = _WORD.search(self._pending, max(0, self._scan - self._base))
        return self._release(self._base + (tail.start() if tail else len(self._pending)))

    def finish(self) -> str:
        """The reply ended: what is still held back (up to a loop found in it)."""
        if self.looped:
            return ""
        cut = self._read(final=True)
        if cut is not None:
            return self._stop(cut)
        return self._release(self._base + len(self._pending))

    def _read(self, *, final: bool) -> int | None:
        """Take in the words completed so far; where a loop starts, if one did."""
        for match in _WORD.finditer(self._pending, self._scan - self._base):
            if match.end() == len(self._pending) and not final:
                break  # it may go on in the next piece
            self._starts.append(self._base + match.start())
            if len(self._starts) > self.span:
                del self._starts[0]
            self._scan = self._base + match.end()
            cut = self._remember(match.group().lower())
            if cut is not None:
                return cut
        return None

    def _remember(self, word: str) -> int | None:
        """Note the next word; the start of a repeated ``span`` run it ends."""
        last = self._count
        self._count += 1
        places = self._seen.setdefault(word, [])
        before = self._common
        self._common = {p: min(before.get(p - 1, 0) + 1, self.span) for p in places}
        places.append(last)
        if self._common and max(self._common.values()) >= self.span:
            return self._starts[-self.span]
        return None

    def _held(self) -> int:
        """How many last words could start a loop: the longest run of them (fewer than
        span) that began earlier too."""
        return min(max(self._common.values(), default=0), self.span - 1)

    def _release(self, upto: int) -> str:
        count = max(0, upto - self._base)
        released, self._pending = self._pending[:count], self._pending[count:]
        self._base += count
        return released

    def _stop(self, cut: int) -> str:
        self.looped = True
        released = self._release(cut).rstrip()
        self._pending = ""
        return released
