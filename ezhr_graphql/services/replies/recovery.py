"""Keeping reply streams whole when something dies: a run's process (its reply is
failed by the sweep once its heartbeat is stale, with the text its stream carried)
or the broker (the ends of streams it could not take are published once it is back,
with whatever else the stream lost)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.models import ChatMessage, MessageStatus
from ezhr_graphql.pubsub import Broker, BrokerUnavailable
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
    decode,
    encode,
)
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.settings import ChatSettings

logger = logging.getLogger(__name__)

# Streams of finished runs kept to publish once the broker is back, at most.
MAX_OWED = 1000


@dataclass(frozen=True, slots=True)
class Ending:
    """How a dead run's reply is stored: its code, its text (``None``: keep what is
    stored) and the seq of its stream's end."""

    code: FailureCode
    content: str | None
    seq: int


class Recovery:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        settings: ChatSettings,
        running_here: Callable[[uuid.UUID], bool],
    ) -> None:
        """``running_here(message_id)``: the run of that reply is alive in this
        process (never swept, whatever its heartbeat says)."""
        self.db = db
        self.broker = broker
        self.settings = settings
        self.running_here = running_here
        # Ends of streams still to be published (the broker was out of reach), by
        # message: each publishes what its stream misses.
        self._owed: dict[uuid.UUID, Callable[[], Awaitable[None]]] = {}

    async def publish_missing(self, message_id: uuid.UUID, events: list[ReplyEvent]) -> None:
        """Give the reply's stream the events of ``events`` (all a run emitted, from
        seq 1) it lacks: all of them if the broker lost it.

        Raises:
            BrokerUnavailable: out of reach, or the stream was lost again meanwhile.
        """
        name = stream_name(message_id)
        last = await self.broker.last(name)
        for event in events[0 if last is None else last.seq :]:
            await self.broker.append(name, encode(event))

    def owe(self, message_id: uuid.UUID, publish: Callable[[], Awaitable[None]]) -> None:
        if len(self._owed) < MAX_OWED:
            self._owed[message_id] = publish

    async def publish_owed(self) -> None:
        """Publish the ends of streams that could not be told: the broker was out of
        reach when their runs ended."""
        for message_id, publish in list(self._owed.items()):
            try:
                await publish()
            except BrokerUnavailable:
                return
            self._owed.pop(message_id, None)

    async def sweep(self) -> int:
        """Mark ``STREAMING`` messages whose heartbeat is stale as ``FAILED``, with the
        text their stream carried, and end their streams."""
        cutoff = utcnow() - timedelta(seconds=self.settings.stale_after_seconds)
        async with self.db.read() as session:
            candidates = [
                m.id
                for m in await ChatMessageRepository.from_session(session).stale_streaming(cutoff)
                if not self.running_here(m.id)
            ]
        if not candidates:
            return 0
        endings = {message_id: await self._ending(message_id) for message_id in candidates}
        stale: list[ChatMessage] = []
        async with self.db.transaction() as session:
            messages = ChatMessageRepository.from_session(session)
            for message_id, ending in endings.items():
                # Fail only what is still stale at the moment of the update: a run
                # that beat in between keeps going.
                if not await messages.fail_if_stale(message_id, cutoff):
                    continue
                message = await messages.get(message_id)
                if message is None:
                    continue
                message.status = MessageStatus.FAILED
                message.error_code = ending.code.value
                message.stream_seq = ending.seq
                if ending.content is not None:
                    message.content = ending.content
                stale.append(message)
        for message in stale:
            announce = self._announcer(message)
            try:
                await announce()
            except BrokerUnavailable:
                logger.warning("could not end the stream of run %s", message.id, exc_info=True)
                self.owe(message.id, announce)
        return len(stale)

    def _announcer(self, message: ChatMessage) -> Callable[[], Awaitable[None]]:
        """Ends the stream of a dead run's reply with the seq stored for its end,
        unless it has ended already."""
        name = stream_name(message.id)
        end = ReplyFailed(
            message.stream_seq or 1,
            FailureCode.of(message.error_code),
            "The reply was interrupted; please try again",
            message.content,
            message,
        )

        async def announce() -> None:
            last = await self.broker.last(name)
            if last is not None and last.terminal:
                return
            await self.broker.append(name, encode(end))

        return announce

    async def _ending(self, message_id: uuid.UUID) -> Ending:
        """How a dead run's reply ends: with the code its stream already ended with (a
        run that could not store its outcome says so), else ``INTERRUPTED``; with the
        text its stream carried (``None``: the stream is gone, keep what is stored);
        at the seq after the stream's last event."""
        try:
            events = [decode(event) for event in await self.broker.events(stream_name(message_id))]
        except Exception:
            logger.warning("could not read the stream of run %s", message_id, exc_info=True)
            events = []
        if not events:
            return Ending(FailureCode.INTERRUPTED, None, 1)
        text = "".join(e.text for e in events if isinstance(e, ReplyDelta))
        last = events[-1]
        if isinstance(last, ReplyFailed):
            # It ended already: its end stands, and the stored row takes its seq.
            return Ending(last.code, text if last.content is None else last.content, last.seq)
        return Ending(FailureCode.INTERRUPTED, text, last.seq + 1)

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.publish_owed()
                await self.sweep()
            except Exception:
                logger.warning("sweeping stale runs failed", exc_info=True)
            await asyncio.sleep(max(1.0, self.settings.stale_after_seconds / 2))
