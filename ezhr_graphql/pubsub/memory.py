"""The in-process broker: the embedded default for a single server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ezhr_graphql.pubsub.broker import TERMINAL, StreamEvent, StreamLost, Subscription
from ezhr_graphql.pubsub.inbox import Inbox


def _as_is(message: dict[str, Any]) -> dict[str, Any]:
    return message


class _Stream:
    """A stream stored by columns: a text delta costs one string, not three objects
    the garbage collector has to walk for as long as the stream is retained."""

    __slots__ = ("changed", "finished_at", "kinds", "payloads", "touched_at")

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.payloads: list[Any] = []
        self.changed = asyncio.Event()
        self.finished_at: float | None = None
        self.touched_at = time.monotonic()

    def __len__(self) -> int:
        return len(self.kinds)

    def add(self, event: StreamEvent) -> None:
        self.kinds.append(event.kind)
        self.payloads.append(event.data["text"] if event.kind == "delta" else event.data)

    def event(self, index: int) -> StreamEvent:
        kind, payload = self.kinds[index], self.payloads[index]
        data = {"text": payload} if kind == "delta" else payload
        return StreamEvent(index + 1, kind, data)

    @property
    def finished(self) -> bool:
        return bool(self.kinds) and self.kinds[-1] in TERMINAL


class MemoryBroker:
    """Streams kept in memory for ``retention`` seconds after they finish."""

    def __init__(self, retention: float = 3600.0) -> None:
        self.retention = retention
        self._streams: dict[str, _Stream] = {}
        self._channels: dict[str, set[Inbox]] = {}

    @property
    def redis(self) -> None:
        """Nothing is shared beyond this process."""
        return None

    def _stream(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream()
        return stream

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.retention
        for name in [
            n for n, s in self._streams.items() if s.finished_at and s.finished_at < cutoff
        ]:
            del self._streams[name]

    async def append(self, stream: str, event: StreamEvent) -> None:
        found = self._streams.get(stream)
        held = 0 if found is None else len(found)
        if event.seq <= held:
            return  # already have it: a writer retried
        if event.seq > held + 1:
            # Positions follow from seqs: the stream never holds a gap (see Broker).
            raise StreamLost(f"{stream} holds {held} events, not {event.seq - 1}")
        target = self._stream(stream)
        target.add(event)
        target.touched_at = time.monotonic()
        if event.terminal:
            target.finished_at = time.monotonic()
            self._expire()
        # Wake every reader; each waits on a fresh event afterwards.
        target.changed.set()
        target.changed = asyncio.Event()

    async def read(self, stream: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        target = self._stream(stream)
        # Events are numbered from 1 without gaps, so positions follow from seqs.
        position = max(after, 0)
        while True:
            end = len(target)
            if position < end:
                batch = [target.event(i) for i in range(position, end)]
                position = end
                yield batch
                if batch[-1].terminal:
                    return
            elif target.finished:
                return  # finished, and the reader has seen all it asked for
            else:
                await target.changed.wait()

    async def events(self, stream: str) -> list[StreamEvent]:
        found = self._streams.get(stream)
        return [] if found is None else [found.event(i) for i in range(len(found))]

    async def exists(self, stream: str) -> bool:
        found = self._streams.get(stream)
        return found is not None and len(found) > 0

    async def last(self, stream: str) -> StreamEvent | None:
        found = self._streams.get(stream)
        return found.event(len(found) - 1) if found is not None and len(found) else None

    async def delete(self, streams: list[str]) -> int:
        return sum(self._streams.pop(name, None) is not None for name in streams)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for inbox in self._channels.get(channel, ()):
            inbox.put(message)

    async def subscribe(self, channel: str) -> Subscription:
        inbox = Inbox()
        self._channels.setdefault(channel, set()).add(inbox)

        def close() -> None:
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(inbox)
                if not subscribers:
                    del self._channels[channel]

        return Subscription(inbox, _as_is, close)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._streams.clear()
