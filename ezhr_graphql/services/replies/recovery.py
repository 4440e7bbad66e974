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
    decoded,
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
        reach when their runs ended. One that fails again waits for the next round;
        it holds back none of the others."""
        for message_id, publish in list(self._owed.items()):
            try:
                await publish()
            except BrokerUnavailable:
                logger.info("the end of run %s is still owed", message_id)
                continue
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
        endings = {
            message_id: ending
            for message_id in candidates
            # A stream that cannot be read now (the broker is out of reach) is not
            # guessed at: its reply waits for the next sweep.
            if (ending := await self._ending(message_id)) is not None
        }
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
        """Ends the stream of a dead run's reply, unless it has ended already, with
        the seq after the stream's last event as the broker holds it when the end is
        published (a broker that restarted empty holds none); the stored reply keeps
        the higher of that and the seq it was stored with."""
        name = stream_name(message.id)

        async def announce() -> None:
            last = await self.broker.last(name)
            if last is not None and last.terminal:
                return
            seq = (last.seq if last is not None else 0) + 1
            end = ReplyFailed(
                seq,
                FailureCode.of(message.error_code),
                "The reply was interrupted; please try again",
                message.content,
                message,
            )
            await self.broker.append(name, encode(end))
            if seq > (message.stream_seq or 0):
                await self._record_end(message, seq)

        return announce

    async def _record_end(self, message: ChatMessage, seq: int) -> None:
        """Store ``seq`` as the end of the reply's stream."""
        async with self.db.transaction() as session:
            stored = await ChatMessageRepository.from_session(session).get(message.id)
            if stored is not None and (stored.stream_seq or 0) < seq:
                stored.stream_seq = message.stream_seq = seq

    async def _ending(self, message_id: uuid.UUID) -> Ending | None:
        """How a dead run's reply ends: with the code its stream already ended with (a
        run that could not store its outcome says so), else ``INTERRUPTED``; with the
        text its stream carried (``None``: the stream is gone, keep what is stored);
        at the seq after the stream's last event. ``None`` when the stream cannot be
        read now."""
        try:
            raw = await self.broker.events(stream_name(message_id))
        except Exception:
            logger.warning("could not read the stream of run %s", message_id, exc_info=True)
            return None
        if not raw:
            return Ending(FailureCode.INTERRUPTED, None, 1)
        events = decoded(raw)
        text = "".join(e.text for e in events if isinstance(e, ReplyDelta))
        last = events[-1] if events else None
        if isinstance(last, ReplyFailed) and last.seq == raw[-1].seq:
            # It ended already: its end stands, and the stored row takes its seq.
            return Ending(last.code, text if last.content is None else last.content, last.seq)
        return Ending(FailureCode.INTERRUPTED, text, raw[-1].seq + 1)

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.publish_owed()
                await self.sweep()
            except Exception:
                logger.warning("sweeping stale runs failed", exc_info=True)
            await asyncio.sleep(max(1.0, self.settings.stale_after_seconds / 2))
