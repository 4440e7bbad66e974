"""The broker contract shared by the in-memory and Redis implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ezhr_graphql.pubsub.inbox import Inbox

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Event kinds after which a stream has nothing more to say.
TERMINAL = frozenset({"completed", "failed"})


class BrokerUnavailable(Exception):
    """The broker cannot be reached (down, restarting, connection lost): worth trying
    again shortly. A broker that restarts may come back without the streams it held."""


class StreamLost(BrokerUnavailable):
    """The stream lacks events before the one appended (a broker that restarted empty,
    its client reconnecting without a word, holds none of them): the event was not
    added. Its writer gives the stream every event it misses, then goes on."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    kind: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


class Subscription:
    """Signals of one channel, registered before ``subscribe`` returns, so nothing
    published afterwards is missed. Close it to stop receiving."""

    __slots__ = ("_decode", "_inbox", "_on_close")

    def __init__(
        self,
        inbox: Inbox,
        decode: Callable[[Any], dict[str, Any]],
        on_close: Callable[[], None],
    ) -> None:
        self._inbox = inbox
        self._decode = decode
        self._on_close = on_close

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return self._decode(await self._inbox.get())

    async def aclose(self) -> None:
        self._on_close()


class Broker(Protocol):
    """Every method may raise ``BrokerUnavailable``."""

    @property
    def redis(self) -> Redis | None:
        """The Redis client of a broker that lives in Redis, for other state that every
        process must share (rate-limit counters, persisted queries); ``None`` when the
        broker lives in this process, and so does that state."""
        ...

    async def append(self, stream: str, event: StreamEvent) -> None:
        """Add ``event`` to ``stream`` (its writer numbers events 1, 2, 3...); one the
        stream holds already (a writer retried) is ignored.

        Raises:
            StreamLost: the stream does not hold the event before this one.
        """

    def read(self, stream: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        """Every event of ``stream`` with ``seq > after``, in order, once each: first
        what is stored, then live ones, until a terminal event. Never skips one: a
        stream missing events after ``after`` (lost in a broker restart) is waited on
        until its writer gives them back. Ends without a terminal event if the stream
        ended at or before ``after`` (it is not the one the reader followed).

        Events come in batches: everything that arrived since the reader last asked,
        so a reader that is busy (sending a frame, waiting to gather text) is not
        woken once per event."""
        ...

    async def events(self, stream: str) -> list[StreamEvent]:
        """Every event the stream holds now, in order (none once it has expired)."""
        ...

    async def exists(self, stream: str) -> bool:
        """Whether the stream holds any event (it may have expired)."""
        ...

    async def last(self, stream: str) -> StreamEvent | None:
        """The stream's newest event, if any."""
        ...

    async def delete(self, streams: list[str]) -> int:
        """Remove ``streams`` and every event they hold (a conversation erased); how
        many existed. Readers following one see nothing more of it."""
        ...

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send a signal to every process's subscribers of ``channel``."""

    async def subscribe(self, channel: str) -> Subscription:
        """Signals sent to ``channel`` from now on, until the subscription is closed."""
        ...

    async def ping(self) -> None:
        """Raises if the broker cannot be reached."""
        ...

    async def close(self) -> None: ...
