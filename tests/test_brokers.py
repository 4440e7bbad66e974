"""The broker contract, on the in-process broker and on Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest

from ezhr_graphql.pubsub import Broker, MemoryBroker, StreamEvent, StreamLost
from ezhr_graphql.pubsub.redis import RedisBroker
from tests.tools import need_redis


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    made: Broker = MemoryBroker() if request.param == "memory" else RedisBroker(need_redis())
    yield made
    await made.close()


def event(seq: int, kind: str = "delta") -> StreamEvent:
    return StreamEvent(seq, kind, {"text": f"t{seq}"})


async def seqs(broker: Broker, stream: str, after: int) -> list[int]:
    return [e.seq async for batch in broker.read(stream, after) for e in batch]


async def test_readers_get_stored_then_live_events_once_in_order(broker: Broker) -> None:
    stream = f"test:{uuid.uuid4()}"
    early = asyncio.create_task(seqs(broker, stream, 0))
    await broker.append(stream, event(1, "started"))
    await broker.append(stream, event(2))
    await asyncio.sleep(0.05)
    middle = asyncio.create_task(seqs(broker, stream, 1))
    await asyncio.sleep(0.05)
    for seq in range(3, 8):
        await broker.append(stream, event(seq))
    await broker.append(stream, event(8, "completed"))
    assert await asyncio.wait_for(early, 5) == list(range(1, 9))
    assert await asyncio.wait_for(middle, 5) == list(range(2, 9))
    assert await seqs(broker, stream, 5) == [6, 7, 8]
    assert await asyncio.wait_for(seqs(broker, stream, 8), 5) == []
    assert await broker.exists(stream)
    last = await broker.last(stream)
    assert last is not None
    assert last.seq == 8


async def test_appending_an_event_twice_stores_it_once(broker: Broker) -> None:
    stream = f"test:{uuid.uuid4()}"
    await broker.append(stream, event(1))
    await broker.append(stream, event(1))
    await broker.append(stream, event(2, "failed"))
    assert await seqs(broker, stream, 0) == [1, 2]


async def test_signals_reach_subscribers_registered_before_publishing(broker: Broker) -> None:
    channel = f"test-{uuid.uuid4()}"
    first = await broker.subscribe(channel)
    second = await broker.subscribe(channel)
    await broker.publish(channel, {"n": 1})
    assert await asyncio.wait_for(first.__anext__(), 5) == {"n": 1}
    assert await asyncio.wait_for(second.__anext__(), 5) == {"n": 1}
    await second.aclose()
    await broker.publish(channel, {"n": 2})
    assert await asyncio.wait_for(first.__anext__(), 5) == {"n": 2}
    await first.aclose()


async def test_missing_streams_do_not_exist(broker: Broker) -> None:
    assert not await broker.exists(f"test:{uuid.uuid4()}")
    assert await broker.last(f"test:{uuid.uuid4()}") is None


async def test_an_event_after_missing_ones_is_refused_and_not_delivered(broker: Broker) -> None:
    stream = f"test:{uuid.uuid4()}"
    reader = asyncio.create_task(seqs(broker, stream, 0))
    await asyncio.sleep(0.05)
    # Given a stream that lacks its first two events (a broker that restarted empty)
    with pytest.raises(StreamLost):
        await broker.append(stream, event(3))
    # Then the event is not taken, nor seen by readers
    assert not await broker.exists(stream)
    # and once its writer gives the stream what it lacks, readers get all, once
    for seq in (1, 2, 3):
        await broker.append(stream, event(seq))
    await broker.append(stream, event(4, "completed"))
    assert await asyncio.wait_for(reader, 5) == [1, 2, 3, 4]


@pytest.fixture
async def redis_broker(redis_url: str) -> AsyncIterator[RedisBroker]:
    made = RedisBroker(redis_url, poll=0.2)
    yield made
    await made.close()


async def test_a_redis_stream_emptied_between_two_appends_refuses_the_next(
    redis_broker: RedisBroker,
) -> None:
    stream = f"test:{uuid.uuid4()}"
    await redis_broker.append(stream, event(1, "started"))
    await redis_broker.append(stream, event(2))
    # Given Redis loses the stream (restarted empty) and nothing failed meanwhile
    await redis_broker.redis.delete(redis_broker._key(stream))
    # Then the next append says so rather than starting the stream over at 3
    with pytest.raises(StreamLost):
        await redis_broker.append(stream, event(3))
    assert await redis_broker.events(stream) == []


async def test_a_redis_reader_never_skips_events_a_stream_lacks(
    redis_broker: RedisBroker,
) -> None:
    stream = f"test:{uuid.uuid4()}"
    # Given a stream holding its events from 3 on (written around the broker)
    for seq, kind in ((3, "delta"), (4, "completed")):
        payload = orjson.dumps({"seq": seq, "kind": kind, "data": {"text": f"t{seq}"}})
        await redis_broker.redis.xadd(redis_broker._key(stream), {"e": payload}, id=f"0-{seq}")
    # Then a reader from the start, or from 1, gets nothing rather than a gap
    for after in (0, 1):
        reading = asyncio.create_task(seqs(redis_broker, stream, after))
        await asyncio.sleep(0.5)  # replayed and polled twice
        assert not reading.done()
        reading.cancel()
    # while one after the gap gets the rest
    assert await asyncio.wait_for(seqs(redis_broker, stream, 2), 5) == [3, 4]


async def test_a_redis_reader_ends_when_its_lost_stream_is_ended_afresh(
    redis_broker: RedisBroker,
) -> None:
    stream = f"test:{uuid.uuid4()}"
    for seq in (1, 2, 3):
        await redis_broker.append(stream, event(seq))
    reader = asyncio.create_task(seqs(redis_broker, stream, 3))
    await asyncio.sleep(0.05)
    # Given the stream is lost, and ended afresh at 1 (the sweeper, for a dead run)
    await redis_broker.redis.delete(redis_broker._key(stream))
    await redis_broker.append(stream, event(1, "failed"))
    # Then a reader past that end stops waiting (it has nothing to come)
    assert await asyncio.wait_for(reader, 5) == []
