"""The in-process broker: the embedded default for a single server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ezhr_graphql.pubsub.broker import StreamEvent, Subscription


class _Stream:
    __slots__ = ("changed", "events", "finished_at")

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.changed = asyncio.Event()
        self.finished_at: float | None = None


class MemoryBroker:
    """Streams kept in memory for ``retention`` seconds after they finish."""

    def __init__(self, retention: float = 3600.0) -> None:
        self.retention = retention
        self._streams: dict[str, _Stream] = {}
        self._channels: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

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
        target = self._stream(stream)
        if target.events and event.seq <= target.events[-1].seq:
            return  # already have it: a writer retried
        target.events.append(event)
        if event.terminal:
            target.finished_at = time.monotonic()
            self._expire()
        # Wake every reader; each waits on a fresh event afterwards.
        target.changed.set()
        target.changed = asyncio.Event()

    async def read(self, stream: str, after: int) -> AsyncIterator[StreamEvent]:
        target = self._stream(stream)
        position = 0
        while True:
            events = target.events
            # Events are numbered from 1 without gaps, so the index follows from seq.
            if position < after:
                position = min(after, len(events))
            while position < len(events):
                event = events[position]
                position += 1
                if event.seq > after:
                    yield event
                if event.terminal:
                    return
            if events and events[-1].terminal:
                return  # finished, and the reader has seen all it asked for
            await target.changed.wait()

    async def exists(self, stream: str) -> bool:
        found = self._streams.get(stream)
        return found is not None and bool(found.events)

    async def last(self, stream: str) -> StreamEvent | None:
        found = self._streams.get(stream)
        return found.events[-1] if found is not None and found.events else None

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for queue in self._channels.get(channel, ()):
            queue.put_nowait(message)

    async def subscribe(self, channel: str) -> Subscription:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._channels.setdefault(channel, set()).add(queue)

        def close() -> None:
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._channels[channel]

        return Subscription(queue, lambda message: message, close)

    async def close(self) -> None:
        self._streams.clear()
