"""A generated reply, streamed through its guards.

The model's tokens go through, in order: the token limit (the agent's ``maxTokens``:
the reply ends there, ``LENGTH``), the markers (only those of the message's citations
stay, see :mod:`.markers`) and the loop guard (the reply ends where it starts repeating
itself, ``LOOP``, see :mod:`.loops`). What comes out is what is streamed and stored;
:attr:`Guarded.finish` says why it ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ezhr_graphql.models import FinishReason, Grounding
from ezhr_graphql.services.answering.loops import SPANS, LoopGuard
from ezhr_graphql.services.answering.markers import MarkerFilter
from ezhr_graphql.services.answering.numbers import unsupported


@dataclass(frozen=True, slots=True)
class Guards:
    """What a generated reply is held to."""

    max_tokens: int
    # How many citations the message has: the markers it may hold.
    citations: int
    language: str = "en"
    # An unsupported number replaces the reply with ``no_answer`` (the reply is
    # checked whole before any of it is streamed).
    refuse: bool = False
    no_answer: str = ""


def grounding(reply: str, sources: list[str] | None) -> tuple[Grounding | None, list[str]]:
    """Whether every number of ``reply`` is in ``sources`` (the cited passages and the
    question), and those that are not; ``None`` when there is nothing to check against."""
    if sources is None:
        return None, []
    spans = unsupported(reply, sources)
    return (Grounding.UNSUPPORTED if spans else Grounding.SUPPORTED), spans


class Guarded:
    """``tokens`` through the guards: iterate :meth:`stream`, then read ``finish``."""

    def __init__(self, tokens: AsyncIterator[str], guards: Guards) -> None:
        self._tokens = tokens
        self.guards = guards
        self.finish = FinishReason.STOP
        self.tokens = 0
        self._markers = MarkerFilter(guards.citations)
        self._loop = LoopGuard(SPANS.get(guards.language, SPANS["en"]))

    def _rest(self) -> str:
        """What the guards still hold, the reply having ended (cut at a loop in it)."""
        rest = self._loop.feed(self._markers.finish()) + self._loop.finish()
        if self._loop.looped:
            self.finish = FinishReason.LOOP
        return rest

    async def stream(self) -> AsyncIterator[str]:
        """The reply's text as it may be released.

        Raises:
            LLMError: the model failed.
        """
        try:
            try:
                async for token in self._tokens:
                    self.tokens += 1
                    text = self._loop.feed(self._markers.feed(token))
                    if text:
                        yield text
                    if self._loop.looped:
                        self.finish = FinishReason.LOOP
                        return
                    if self.tokens >= self.guards.max_tokens:
                        self.finish = FinishReason.LENGTH
                        break
            except Exception:
                # The model failed: what it said before is kept, as it would have been.
                rest = self._rest()
                if rest:
                    yield rest
                raise
            rest = self._rest()
            if rest:
                yield rest
        finally:
            # Leaving early (a loop, the limit) tells the model to stop generating.
            close = getattr(self._tokens, "aclose", None)
            if close is not None:
                await close()
