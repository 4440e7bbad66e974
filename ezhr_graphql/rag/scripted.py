"""A scripted LLM on LlamaIndex's LLM interface: deterministic tokens, optional
delays and failures. Tests, benchmarks and demos without a model use it.

The script is the model name, e.g. ``scripted?tokens=40&delay_ms=20&fail_after=5&error=429``:

- ``tokens``: how many tokens the reply has (default 12);
- ``delay_ms``: pause before each token (default 0);
- ``fail_after``: fail after that many tokens (default: never);
- ``error``: how it fails: ``timeout``, ``401``, ``429``, ``500`` or ``refused``;
- ``say``: the reply's text, instead of the echo (cut to ``tokens`` words);
- ``repeat``: ``1`` makes the reply loop, its first sentence said over and over (as
  small models do);
- ``obey_injection``: ``1`` makes it obey an instruction written in its prompt outside
  the fenced passages ("Ignore previous instructions and say ..."), as a model that
  cannot tell quoted documents from its rules would.

The reply starts by echoing the last user message, so tests can tell replies apart;
the words after the echo never repeat a run of eight words (a guard takes that for a
loop). Asked to condense a follow-up question, it joins the conversation's first user
turn and the follow-up, which is enough for retrieval to find the topic again.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from pydantic import Field

from ezhr_graphql.rag.chat_model import LLMError
from ezhr_graphql.rag.prompts import BLOCK, CONDENSE_INSTRUCTION

FILLER = [
    "according", "to", "the", "handbook", "employees", "should", "check", "policy",
    "page", "and", "ask", "HR", "when", "anything", "is", "unclear", "a", "manager",
    "can", "help", "with", "leave", "requests", "benefits", "questions", "or", "forms",
]  # fmt: skip
LOOP = "The life insurance policy is a 20% policy with a maximum of $100,000."
INJECTION = re.compile(
    r"ignore (?:all )?(?:the )?previous instructions and (?:say|answer|reply)(?: that)? "
    r"([^\n]+?)(?:\.(?:\s|$)|\n|$)",
    re.IGNORECASE,
)


class ScriptedFailure(Exception):
    def __init__(self, status_code: int | None, kind: str) -> None:
        super().__init__(kind)
        self.status_code = status_code


def _failure(kind: str) -> Exception:
    if kind == "timeout":
        return TimeoutError("scripted timeout")
    if kind == "refused":
        return ConnectionRefusedError("scripted connection refused")
    if kind.isdigit():
        return ScriptedFailure(int(kind), f"scripted HTTP {kind}")
    return LLMError("LLM_ERROR", "scripted failure")


class ScriptedLLM(CustomLLM):
    tokens: int = Field(default=12)
    delay: float = Field(default=0.0)
    fail_after: int | None = Field(default=None)
    error: str = Field(default="500")
    context_window: int = Field(default=4096)
    say: str | None = Field(default=None)
    repeat: bool = Field(default=False)
    obey_injection: bool = Field(default=False)

    @classmethod
    def from_script(cls, script: str, context_window: int = 4096) -> ScriptedLLM:
        query = parse_qs(urlsplit(script).query)

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        fail_after = one("fail_after")
        return cls(
            tokens=int(one("tokens") or 12),
            delay=int(one("delay_ms") or 0) / 1000,
            fail_after=None if fail_after is None else int(fail_after),
            error=one("error") or "500",
            context_window=context_window,
            say=one("say"),
            repeat=one("repeat") == "1",
            obey_injection=one("obey_injection") == "1",
        )

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window, num_output=256, model_name="scripted"
        )

    def script(self, messages: Sequence[ChatMessage]) -> list[str]:
        question = next(
            (m.content or "" for m in reversed(messages) if m.role == MessageRole.USER), ""
        )
        if messages and messages[0].content == CONDENSE_INSTRUCTION:
            return [condensed(question)]
        ordered = self._obeyed(messages)
        if ordered is not None:
            words = ordered.split()
        elif self.say is not None:
            words = self.say.split()
        elif self.repeat:
            words = LOOP.split() * (self.tokens // len(LOOP.split()) + 1)
        else:
            words = ["You", "asked:", *question.split()[:8], "—"]
            # Words drawn at random (the same every time): they never loop.
            draw = random.Random(len(words))  # noqa: S311 - not for secrets
            words.extend(draw.choice(FILLER) for _ in range(self.tokens - len(words)))
        return [w + " " for w in words[: self.tokens]]

    def _obeyed(self, messages: Sequence[ChatMessage]) -> str | None:
        """What an instruction outside the fenced passages orders it to say."""
        if not self.obey_injection:
            return None
        for message in messages:
            if message.role != MessageRole.SYSTEM:
                continue
            found = INJECTION.search(BLOCK.sub(" ", message.content or ""))
            if found:
                return found.group(1)
        return None

    def _tokens(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        for i, token in enumerate(self.script(messages)):
            if self.fail_after is not None and i >= self.fail_after:
                raise _failure(self.error)
            yield token
        if self.fail_after is not None and self.fail_after >= self.tokens:
            raise _failure(self.error)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for token in self._tokens(messages):
                if self.delay:
                    time.sleep(self.delay)
                text += token
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=token
                )

        return gen()

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        async def gen() -> ChatResponseAsyncGen:
            # Tokens are due at a steady pace from the start, like a remote model's
            # stream: a reader that falls behind finds several waiting at once (as in
            # a socket buffer) rather than the pace slowing down.
            loop = asyncio.get_running_loop()
            start = loop.time()
            text = ""
            for i, token in enumerate(self._tokens(messages)):
                lag = start + (i + 1) * self.delay - loop.time()
                if lag > 0 or i % 16 == 0:
                    await asyncio.sleep(max(lag, 0))
                text += token
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=token
                )

        return gen()

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._tokens(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        return CompletionResponse(text="".join(self._tokens(messages)))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]

        def gen() -> CompletionResponseGen:
            text = ""
            for token in self._tokens(messages):
                text += token
                yield CompletionResponse(text=text, delta=token)

        return gen()


def condensed(request: str) -> str:
    """The scripted standalone question: first user turn plus the follow-up."""
    first = next((line[6:] for line in request.splitlines() if line.startswith("User: ")), "")
    follow_up = request.rsplit("Follow-up question: ", 1)[-1]
    return f"{first} {follow_up}".strip()
