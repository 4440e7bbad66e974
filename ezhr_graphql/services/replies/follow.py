"""Following a reply: what its stream already holds after ``after``, then live events,
until it ends; a client that reconnects (to this process or another) passes the last
``seq`` it saw and gets every later event once, in order.

Consecutive text deltas that are already waiting go out as one: under load a client
gets fewer, larger deltas, never fewer tokens. A finished reply whose stream has
expired is replayed from the stored row, its end with the seq it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.errors import InvalidInputError, NotFoundError
from ezhr_graphql.models import ChatMessage, MessageStatus
from ezhr_graphql.pubsub import Broker, BrokerUnavailable, StreamEvent
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyCitations,
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
    decoded,
    is_terminal,
)
from ezhr_graphql.services.replies.quiet import QuietReplies, Watch
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.settings import ChatSettings

# No stream holds more events than this: a larger ``after`` is refused at once.
MAX_SEQ = 1_000_000


class Quiet:
    """Marks a followed stream that went quiet without its end (see :func:`coalesced`)."""


QUIET = Quiet()


async def coalesced(
    batches: AsyncIterator[list[StreamEvent]],
    window: Callable[[], float] = lambda: 0.0,
    quiet: Watch | None = None,
) -> AsyncIterator[ReplyEvent | Quiet]:
    """Events of ``batches`` (a stream's, as the broker reads them) with consecutive
    deltas merged (a merged delta carries the last seq, so resuming after it loses
    nothing); then ``QUIET`` (a terminal marker) should the reply ``quiet`` watches
    be found no longer generated while nothing arrives.

    A stream sends at most one delta per ``window()`` seconds: the first at once,
    later ones gathering every token that arrived meanwhile. A model slower than
    that (most real ones) sees each token sent as it comes; a faster one, or a busy
    server, gets fewer, larger deltas, since a frame costs far more than a token.
    """
    loop = asyncio.get_running_loop()
    last_sent = float("-inf")
    reader = _Reader(batches, quiet)
    try:
        while True:
            if not reader.pending:
                await reader.take(wait=True)
                if not reader.pending:
                    return
            event = reader.pending.pop(0)
            if isinstance(event, ReplyDelta):
                wait = window() - (loop.time() - last_sent)
                if wait > 0 and all(isinstance(e, ReplyDelta) for e in reader.pending):
                    # Gather what arrives meanwhile into this delta.
                    await asyncio.sleep(wait)
                    await reader.take(wait=False)
                event = reader.merged(event)
                last_sent = loop.time()
            # No extra yield to the loop is needed between deltas: the next one
            # waits out the window, the next batch waits for the broker.
            yield event
            if isinstance(event, Quiet) or is_terminal(event):
                return
    finally:
        await reader.close()


class _Reader:
    """Batches of a stream read ahead into ``pending``; the read in flight is kept
    across deltas, so a batch is never lost or cut short."""

    __slots__ = ("finished", "pending", "quiet", "source", "step")

    def __init__(self, batches: AsyncIterator[list[StreamEvent]], quiet: Watch | None) -> None:
        self.source = batches.__aiter__()
        self.quiet = quiet
        self.pending: list[ReplyEvent | Quiet] = []
        self.step: asyncio.Future[list[StreamEvent]] | None = None
        self.finished = False

    async def take(self, wait: bool) -> None:
        if self.finished:
            return
        if self.step is None:
            self.step = asyncio.ensure_future(self.source.__anext__())
        if not wait:
            await asyncio.sleep(0)
            if not self.step.done():
                return
        elif self.quiet is not None:
            # The read itself is waited on (no task per batch), and never cut short.
            ended: asyncio.Future[Any] = self.quiet.waiting()
            done, _ = await asyncio.wait({self.step, ended}, return_when=asyncio.FIRST_COMPLETED)
            if self.step not in done:
                self.pending.append(QUIET)
                self.finished = True
                return
            self.quiet.heard()
        try:
            self.pending.extend(decoded(await self.step))
        except StopAsyncIteration:
            self.finished = True
        self.step = None

    def merged(self, first: ReplyDelta) -> ReplyDelta:
        """``first`` and the deltas waiting right after it, as one."""
        texts, last = [first.text], first
        while self.pending and isinstance(self.pending[0], ReplyDelta):
            last = self.pending.pop(0)  # type: ignore[assignment]
            texts.append(last.text)
        return ReplyDelta(last.seq, "".join(texts))

    async def close(self) -> None:
        if self.step is not None:
            self.step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.step
        closing = getattr(self.source, "aclose", None)
        if closing is not None:
            await closing()


def replayed(row: ChatMessage, after: int, observed: int = 0) -> list[ReplyEvent]:
    """The events of a finished reply whose stream has expired (or is not the one the
    client followed), rebuilt from the row, for a client that has seen those up to
    ``after``: all of them from the start; else its end alone, carrying the whole
    stored reply, with the seq the stream gave it; nothing when the client has seen
    the end already. ``observed``: the last seq this follower read from the stream
    itself; a broker that restarted empty may have lost the numbering the stored end
    was given, and the end of the stream a follower read comes after what it read.
    A seq is never made up from what a client says it saw.

    Raises:
        InvalidInputError: ``after`` is past the end of the reply's stream.
    """
    events: list[ReplyEvent] = [ReplyStarted(1, row.id, row.parent_id or row.id, row.session_id)]
    if row.citations:
        events.append(ReplyCitations(len(events) + 1, row.citations))
    if row.content:
        events.append(ReplyDelta(len(events) + 1, row.content))
    end = max(row.stream_seq or 0, len(events) + 1, observed + 1 if observed else 0)
    if row.stream_seq is None and after >= end:
        # Finished before the length of its stream was stored: where its end was is
        # not known, so it comes right after what the client saw.
        end = after + 1
    terminal = _end_of(row, end)
    if after == 0:
        return [*events, terminal]
    if after < end:
        return [terminal]
    if after == end:
        return []
    raise InvalidInputError("afterSeq", f"afterSeq is past the end of this reply's stream ({end})")


def _end_of(row: ChatMessage, seq: int) -> ReplyEvent:
    if row.status is not MessageStatus.FAILED:
        return ReplyCompleted(seq, row)
    code = FailureCode.of(row.error_code)
    return ReplyFailed(seq, code, code.reason, row.content, row)


class ReplyFollower:
    """Follows replies for subscribers; one per process (it counts the streams it
    serves, to size their deltas).

    A follower waiting on a quiet stream holds no database session: the process's
    :class:`QuietReplies` checks every quiet reply in one query per period and wakes
    a follower only when its reply is no longer being generated.
    """

    def __init__(
        self, db: Database, broker: Broker, settings: ChatSettings, quiet: QuietReplies
    ) -> None:
        self.db = db
        self.broker = broker
        self.settings = settings
        self.quiet = quiet
        self.open_streams = 0

    async def close(self) -> None:
        await self.quiet.close()

    async def _owned(self, owner_id: uuid.UUID, message_id: uuid.UUID) -> ChatMessage | None:
        async with self.db.read() as session:
            return await ChatMessageRepository.from_session(session).owned(message_id, owner_id)

    def _window(self) -> float:
        # The more streams this process serves, the larger each delta: the frame rate
        # of the whole process stays bounded while every stream keeps flowing.
        chat = self.settings
        return (chat.coalesce_ms + self.open_streams * chat.coalesce_ms_per_stream) / 1000

    async def follow(
        self, owner_id: uuid.UUID, message_id: uuid.UUID, after: int, *, just_sent: bool = False
    ) -> AsyncIterator[ReplyEvent]:
        """The events of the owner's reply after ``after``, ending with its end.
        ``just_sent``: the caller has just stored this reply for its owner (so it is
        theirs and still being generated).

        Raises:
            InvalidInputError: ``after`` is past the end of the stream.
            NotFoundError: no such reply of the owner's (or it was deleted meanwhile).
        """
        if after > MAX_SEQ:
            raise InvalidInputError("afterSeq", f"afterSeq must be at most {MAX_SEQ}")
        after = max(after, 0)  # a negative one means from the start
        if not just_sent:
            replay = await self._stored_replay(owner_id, message_id, after)
            if replay is not None:
                for event in replay:
                    yield event
                return
        self.open_streams += 1
        try:
            async for event in self._live(owner_id, message_id, after):
                yield event
        finally:
            self.open_streams -= 1

    async def _stored_replay(
        self, owner_id: uuid.UUID, message_id: uuid.UUID, after: int
    ) -> list[ReplyEvent] | None:
        """The events of a finished reply whose stream is gone, rebuilt from its row;
        ``None`` when its stream is to be followed (the row is not kept meanwhile).

        Raises:
            InvalidInputError: ``after`` is past the end of the stream.
            NotFoundError: no such reply of the owner's.
        """
        row = await self._owned(owner_id, message_id)
        if row is None:
            raise NotFoundError("Message", message_id)
        if row.status is not MessageStatus.STREAMING and await self._expired(row, after):
            return replayed(row, after)
        return None

    async def _expired(self, row: ChatMessage, after: int) -> bool:
        """Whether the stream of a finished reply is gone, or is not the one the client
        followed (a broker that restarted empty lost it): the stored reply then tells
        it all."""
        try:
            last = await self.broker.last(stream_name(row.id))
        except BrokerUnavailable:
            return True  # the stored reply is all there is to say anyway
        return last is None or last.seq < after

    async def _live(
        self, owner_id: uuid.UUID, message_id: uuid.UUID, after: int
    ) -> AsyncIterator[ReplyEvent]:
        seen = after
        observed = 0  # the last seq read from the stream itself
        with self.quiet.watching(message_id, owner_id) as watch:
            while True:
                # Followed until its end, unless it goes quiet and its reply is found
                # no longer generated: a run stores its reply, then publishes the end,
                # and its process may die in between; a broker that restarted empty
                # may hold an end of a dead run's stream numbered before what the
                # client saw. The stored row then says how it ended.
                quiet = ended = False
                stream = self.broker.read(stream_name(message_id), seen)
                async for event in coalesced(stream, self._window, watch):
                    if isinstance(event, Quiet):
                        quiet = True
                        break
                    seen = observed = event.seq
                    ended = is_terminal(event)
                    yield await self._filled(message_id, event)
                if ended or (not quiet and await self._ended_at(message_id, seen)):
                    return
                ending = await self._ending(owner_id, message_id, seen, observed)
                if ending is not None:
                    for event in ending:
                        yield event
                    return
                if not quiet:
                    # The stream ended before ``seen`` yet the reply goes on (or it
                    # ends soon: the sweeper stores a dead run's reply before its end).
                    await asyncio.sleep(self.settings.stream_end_grace_seconds)
                # Still being generated: follow on from the last event sent, quiet
                # again only after another grace period.
                watch.heard()

    async def _ending(
        self, owner_id: uuid.UUID, message_id: uuid.UUID, seen: int, observed: int
    ) -> list[ReplyEvent] | None:
        """How a reply whose stream went quiet (or ended before ``seen``) ends, from its
        row; ``None`` while it is still being generated.

        Raises:
            NotFoundError: it is gone and the follower read nothing of its stream.
        """
        row = await self._owned(owner_id, message_id)
        if row is None:
            if not observed:
                raise NotFoundError("Message", message_id)
            # Deleted while it was followed: its stream ends after what was read.
            return [ReplyFailed(observed + 1, FailureCode.NOT_FOUND, "The reply was deleted")]
        if row.status is not MessageStatus.STREAMING:
            return replayed(row, seen, observed)
        return None

    async def _ended_at(self, message_id: uuid.UUID, seen: int) -> bool:
        """Whether the stream's end is the event at ``seen`` (the client saw the end
        before it asked again)."""
        with contextlib.suppress(BrokerUnavailable):
            last = await self.broker.last(stream_name(message_id))
            return last is not None and last.terminal and last.seq == seen
        return False

    async def _filled(self, message_id: uuid.UUID, event: ReplyEvent) -> ReplyEvent:
        """A completed event with the stored reply, read if the event lacks it (a
        failure if it was deleted)."""
        if not isinstance(event, ReplyCompleted) or event.message is not None:
            return event
        async with self.db.read() as session:
            row = await ChatMessageRepository.from_session(session).get(message_id)
        if row is None:
            return ReplyFailed(event.seq, FailureCode.NOT_FOUND, "The reply was deleted")
        return ReplyCompleted(event.seq, row)
