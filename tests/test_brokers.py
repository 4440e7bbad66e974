"""The broker contract, on the in-process broker and on Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from ezhr_graphql.pubsub import Broker, MemoryBroker, StreamEvent
from ezhr_graphql.pubsub.redis import RedisBroker

REDIS_URL = os.environ.get("EZHR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    made: Broker = MemoryBroker() if request.param == "memory" else RedisBroker(REDIS_URL)
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
