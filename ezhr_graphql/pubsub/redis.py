"""The Redis broker: Streams keep every event for replay; one pattern subscription
per process carries live events and signals, fanned out to local readers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ezhr_graphql.pubsub.broker import BrokerUnavailable, StreamEvent, StreamLost, Subscription
from ezhr_graphql.pubsub.inbox import Inbox
from ezhr_graphql.tasks import stop_task

logger = logging.getLogger(__name__)

# Adds event ARGV[1] (seq) to stream KEYS[1] only if it holds every event before it,
# in one step: a Redis that restarted empty between two appends (its client
# reconnects without a word) must not take the rest of a stream without its start.
# Returns 1 (added, expired after ARGV[3] seconds unless 0, published on ARGV[4]),
# 0 (held already: a writer retried) or -1 (events before it are missing).
_APPEND = """
local seq = tonumber(ARGV[1])
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local held = 0
if newest[1] then held = tonumber(string.match(newest[1][1], '%-(%d+)$')) end
if seq <= held then return 0 end
if seq > held + 1 then return -1 end
redis.call('XADD', KEYS[1], '0-' .. seq, 'e', ARGV[2])
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
"""


# Stream keys removed per DEL command.
DELETE_BATCH = 500


def _encode(event: StreamEvent) -> bytes:
    return orjson.dumps({"seq": event.seq, "kind": event.kind, "data": event.data})


def _decode(raw: bytes | str) -> StreamEvent:
    value = orjson.loads(raw)
    return StreamEvent(seq=int(value["seq"]), kind=str(value["kind"]), data=value["data"])


def _following(last: int, events: list[StreamEvent]) -> list[StreamEvent]:
    """The events that follow ``last`` without a gap (ordered, each after ``last``)."""
    for index, event in enumerate(events):
        if event.seq != last + 1 + index:
            return events[:index]
    return events


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Redis out of reach (down, restarting, connection cut) as ``BrokerUnavailable``."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise BrokerUnavailable(str(exc)) from exc


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ezhr:",
        retention: int = 3600,
        poll: float = 5.0,
        patience: float = 30.0,
    ) -> None:
        """``patience``: how long a reader waits for Redis to come back before it
        gives up (raising ``BrokerUnavailable``)."""
        # redis-py's default pool fails a command at once ("Too many connections")
        # when 100 are in use, as happens under load with a run appending per token:
        # wait for a free connection instead.
        self._redis = redis.Redis.from_pool(
            redis.BlockingConnectionPool.from_url(url, max_connections=100, timeout=20)
        )
        self.poll = poll
        self.patience = patience
        self.prefix = prefix
        self.retention = retention
        self._local: dict[str, set[Inbox]] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()
        self._append = self._redis.register_script(_APPEND)

    @property
    def redis(self) -> redis.Redis:
        """The client, for other state every process shares (counters, persisted
        queries)."""
        return self._redis

    async def _start(self) -> None:
        async with self._started:
            if self._reader is not None:
                return
            self._pubsub = self._redis.pubsub()
            with _reachable():
                await self._pubsub.psubscribe(f"{self.prefix}*")
            self._reader = asyncio.create_task(self._dispatch(), name="redis-broker")

    async def _dispatch(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep the one reader of this process alive whatever happens; readers
                # re-read the streams they follow while it is down.
                logger.warning("redis broker connection lost; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            for inbox in self._local.get(channel, ()):
                inbox.put(message["data"])

    def _key(self, stream: str) -> str:
        return f"{self.prefix}stream:{stream}"

    def _live(self, stream: str) -> str:
        return f"{self.prefix}live:{stream}"

    async def append(self, stream: str, event: StreamEvent) -> None:
        payload = _encode(event)
        with _reachable():
            added = await self._append(
                keys=[self._key(stream)],
                args=[
                    event.seq,
                    payload,
                    self.retention if event.terminal else 0,
                    self._live(stream),
                ],
            )
        if added == -1:
            raise StreamLost(f"{stream} lacks the events before {event.seq}")

    async def _range(self, stream: str, after: int) -> list[StreamEvent]:
        with _reachable():
            entries: Any = await self._redis.xrange(self._key(stream), min=f"(0-{after}", max="+")
        return [_decode(fields[b"e"]) for _id, fields in entries]

    async def _range_patiently(self, stream: str, after: int) -> list[StreamEvent]:
        """``_range``, waiting out a Redis restart for up to ``patience`` seconds."""
        deadline = time.monotonic() + self.patience
        delay = 0.05
        while True:
            try:
                return await self._range(stream, after)
            except BrokerUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def read(self, stream: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        await self._start()
        with self._listen(self._live(stream)) as live:
            last = after
            # Listening started before the replay, so nothing falls between them.
            stored = _following(last, await self._range_patiently(stream, after))
            if stored:
                last = stored[-1].seq
                yield stored
                if stored[-1].terminal:
                    return
            elif await self._ended_by(stream, after):
                return
            while True:
                try:
                    async with asyncio.timeout(self.poll):
                        await live.wait()
                except TimeoutError:
                    # Nothing live for a while: a message may have been lost while the
                    # subscription reconnected. The stream itself has everything.
                    missed = _following(last, await self._range_patiently(stream, last))
                    if missed:
                        last = missed[-1].seq
                        yield missed
                        if missed[-1].terminal:
                            return
                    elif await self._ended_by(stream, last):
                        return
                    continue
                raw = live.take_all()
                batch: list[StreamEvent] = []
                ended = False
                for event in map(_decode, raw):
                    if event.seq <= last:
                        # An end seen before: the stream restarted empty was ended
                        # afresh (its run had died), it is not the one followed.
                        ended = ended or event.terminal
                        continue
                    if event.seq > last + 1:
                        # A live message was missed (reconnect): fill the gap.
                        missed = await self._range_patiently(stream, last)
                        filled = _following(last, [m for m in missed if m.seq < event.seq])
                        batch.extend(filled)
                        last = filled[-1].seq if filled else last
                        if event.seq > last + 1:
                            # The stream lost them (a restart): never skip events;
                            # its writer gives them back, then this one again.
                            continue
                    batch.append(event)
                    last = event.seq
                    if event.terminal:
                        break
                if batch:
                    yield batch
                    if batch[-1].terminal:
                        return
                if ended:
                    return

    async def _ended_by(self, stream: str, seq: int) -> bool:
        """Whether the stream's end is at or before ``seq``: a reader that has seen
        up to ``seq`` has nothing left to wait for."""
        newest = await self.last(stream)
        return newest is not None and newest.terminal and newest.seq <= seq

    async def events(self, stream: str) -> list[StreamEvent]:
        return await self._range(stream, 0)

    async def exists(self, stream: str) -> bool:
        with _reachable():
            return bool(await self._redis.exists(self._key(stream)))

    async def last(self, stream: str) -> StreamEvent | None:
        with _reachable():
            entries: Any = await self._redis.xrevrange(self._key(stream), count=1)
        return _decode(entries[0][1][b"e"]) if entries else None

    async def delete(self, streams: list[str]) -> int:
        removed = 0
        for start in range(0, len(streams), DELETE_BATCH):
            keys = [self._key(name) for name in streams[start : start + DELETE_BATCH]]
            with _reachable():
                removed += int(await self._redis.delete(*keys))
        return removed

    async def ping(self) -> None:
        with _reachable():
            await self._redis.ping()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        with _reachable():
            await self._redis.publish(f"{self.prefix}signal:{channel}", orjson.dumps(message))

    async def subscribe(self, channel: str) -> Subscription:
        await self._start()
        name = f"{self.prefix}signal:{channel}"
        inbox = self._register(name)
        return Subscription(inbox, orjson.loads, lambda: self._unregister(name, inbox))

    def _register(self, channel: str) -> Inbox:
        inbox = Inbox()
        self._local.setdefault(channel, set()).add(inbox)
        return inbox

    def _unregister(self, channel: str, inbox: Inbox) -> None:
        listeners = self._local.get(channel)
        if listeners is not None:
            listeners.discard(inbox)
            if not listeners:
                del self._local[channel]

    @contextlib.contextmanager
    def _listen(self, channel: str) -> Iterator[Inbox]:
        inbox = self._register(channel)
        try:
            yield inbox
        finally:
            self._unregister(channel, inbox)

    async def close(self) -> None:
        await stop_task(self._reader)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()
