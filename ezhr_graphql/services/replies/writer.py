"""Writing a run's events to its stream, and giving the stream back what a broker
that restarted empty (or stayed out of reach) lost of it."""

from __future__ import annotations

import asyncio
import logging
import time

from ezhr_graphql.pubsub import Broker, BrokerUnavailable, StreamLost
from ezhr_graphql.services.replies.events import ReplyEvent, encode
from ezhr_graphql.services.replies.recovery import Recovery
from ezhr_graphql.services.replies.state import Run
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.settings import ChatSettings

logger = logging.getLogger(__name__)


class StreamWriter:
    def __init__(self, broker: Broker, recovery: Recovery, settings: ChatSettings) -> None:
        self.broker = broker
        self.recovery = recovery
        self.settings = settings

    async def emit(self, run: Run, event: ReplyEvent) -> None:
        """Add ``event`` (numbered with ``run.next_seq()``) to the run's stream.

        Raises:
            BrokerUnavailable: the broker stayed out of reach too long.
        """
        run.events.append(event)
        try:
            await self.broker.append(stream_name(run.message_id), encode(event))
        except BrokerUnavailable as exc:
            if run.broker_lost:
                raise
            lost = isinstance(exc, StreamLost)
            if lost:
                # The broker restarted empty since the last append, and its client
                # reconnected without a word: the stream lacks its beginning.
                logger.warning("run %s: the broker lost its stream", run.message_id)
            await self._restore(run, wait=not lost)

    async def _restore(self, run: Run, *, wait: bool = True) -> None:
        """Give the stream every event it misses (all of them if the broker restarted
        empty), so that followers go on where they were; ``wait``: for the broker to
        come back first. Waits up to half the time after which a silent run is taken
        for dead.

        Raises:
            BrokerUnavailable: it did not come back in time.
        """
        deadline = time.monotonic() + self.settings.stale_after_seconds / 2
        delay = 0.05 if wait else 0.0
        while True:
            await asyncio.sleep(delay)
            delay = max(delay, 0.05)
            try:
                await self.recovery.publish_missing(run.message_id, run.events)
                logger.info("run %s: the broker is back, stream restored", run.message_id)
                return
            except BrokerUnavailable:
                if time.monotonic() + delay > deadline:
                    run.broker_lost = True
                    raise
                delay = min(delay * 2, 1.0)
