"""A small chat interface over LlamaIndex LLMs, with provider errors made typed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM

Role = Literal["system", "user", "assistant"]

_ROLES = {
    "system": MessageRole.SYSTEM,
    "user": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
}


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: Role
    content: str


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMError(Exception):
    """A provider failure, with a stable code for clients.

    Codes: ``LLM_TIMEOUT``, ``LLM_UNAUTHORIZED``, ``LLM_RATE_LIMITED``,
    ``LLM_UNAVAILABLE`` (5xx, connection refused or dropped mid-reply), ``LLM_ERROR``
    (anything else).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChatModel(Protocol):
    context_window: int
    usage: Usage

    def stream(self, turns: Sequence[ChatTurn]) -> AsyncIterator[str]:
        """Yield the reply's text as it is generated.

        Raises:
            LLMError: the provider failed (before or during the reply).
        """
        ...

    async def complete(self, turns: Sequence[ChatTurn]) -> str: ...

    def count_tokens(self, text: str) -> int: ...


def classify(exc: BaseException) -> LLMError:
    """Map an exception from any provider client (openai, httpx, ollama) to a code,
    by shape rather than by import, so this module needs none of them."""
    if isinstance(exc, LLMError):
        return exc
    name = type(exc).__name__.lower()
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or "timeout" in name:
        return LLMError("LLM_TIMEOUT", "The language model did not answer in time")
    if status in (401, 403) or "authentication" in name or "permissiondenied" in name:
        return LLMError("LLM_UNAUTHORIZED", "The language model refused our credentials")
    if status == 429 or "ratelimit" in name:
        return LLMError("LLM_RATE_LIMITED", "The language model is rate limiting us")
    if (
        (isinstance(status, int) and status >= 500)
        or isinstance(exc, ConnectionError)
        or ("connect" in name)
        or _broken_transport(exc)
    ):
        return LLMError("LLM_UNAVAILABLE", "The language model is unavailable")
    return LLMError("LLM_ERROR", "The language model failed")


# Exception classes (anywhere in an exception's ancestry) of HTTP clients whose
# connection broke: httpx's transport errors (a stream cut off mid-reply raises
# RemoteProtocolError or ReadError), openai's APIConnectionError, aiohttp's.
_TRANSPORT_ERRORS = frozenset(
    {"transporterror", "apiconnectionerror", "clientconnectionerror", "clientpayloaderror"}
)


def _broken_transport(exc: BaseException) -> bool:
    return any(cls.__name__.lower() in _TRANSPORT_ERRORS for cls in type(exc).__mro__)


def estimate_tokens(text: str) -> int:
    """Roughly four characters a token: for providers whose tokenizer we do not run
    here (the estimate errs high on non-English text, which keeps prompts in bounds)."""
    return len(text) // 4 + 1


class LlamaIndexChatModel:
    """Streams a LlamaIndex LLM.

    ``blocking`` LLMs (llama.cpp in-process) generate on a worker thread; tokens
    cross to the event loop through a queue, and leaving the stream early tells
    the thread to stop at its next token.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        context_window: int,
        blocking: bool,
        count_tokens: Callable[[str], int] = estimate_tokens,
        lock: threading.Lock | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.llm = llm
        self.context_window = context_window
        self.blocking = blocking
        self.count_tokens = count_tokens
        self.usage = Usage()
        self._lock = lock
        # Per-reply settings of a shared model, applied under its lock.
        self._prepare = prepare

    @staticmethod
    def _messages(turns: Sequence[ChatTurn]) -> list[ChatMessage]:
        return [ChatMessage(role=_ROLES[t.role], content=t.content) for t in turns]

    async def stream(self, turns: Sequence[ChatTurn]) -> AsyncIterator[str]:
        self.usage = Usage(prompt_tokens=sum(self.count_tokens(t.content) for t in turns))
        source = self._threaded(turns) if self.blocking else self._async(turns)
        async for text in source:
            if text:
                # Providers stream one token per chunk; counting chunks counts what
                # was generated, which re-tokenising the text would only estimate.
                self.usage.completion_tokens += 1
                yield text

    async def _async(self, turns: Sequence[ChatTurn]) -> AsyncIterator[str]:
        try:
            stream = await self.llm.astream_chat(self._messages(turns))
            async for chunk in stream:
                yield chunk.delta or ""
        except LLMError:
            raise
        except Exception as exc:
            raise classify(exc) from exc

    async def _threaded(self, turns: Sequence[ChatTurn]) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        messages = self._messages(turns)

        def produce() -> None:
            try:
                # Wait for the shared model, but give up if the reader has gone.
                while self._lock is not None and not self._lock.acquire(timeout=0.1):
                    if stop.is_set():
                        loop.call_soon_threadsafe(queue.put_nowait, ("end", None))
                        return
                try:
                    if self._prepare is not None:
                        self._prepare()
                    for chunk in self.llm.stream_chat(messages):
                        if stop.is_set():
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, ("delta", chunk.delta or ""))
                finally:
                    if self._lock is not None:
                        self._lock.release()
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))
            except Exception as exc:  # handed to the event loop
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "delta":
                    yield value
                elif kind == "end":
                    break
                else:
                    raise classify(value) from value
        finally:
            stop.set()
            await asyncio.shield(worker)

    async def complete(self, turns: Sequence[ChatTurn]) -> str:
        return "".join([text async for text in self.stream(turns)])
