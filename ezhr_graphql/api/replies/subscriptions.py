"""Streaming replies over websockets, and per-user session updates.

``messageStream`` replays what a reply's stream already holds after ``afterSeq`` and
then follows it live, so a client that reconnects (to this worker or another) gets
every later event once, in order. Consecutive text deltas that are already waiting
go out as one frame: under load a client gets fewer, larger frames, never fewer
tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import strawberry
from graphql import GraphQLError

from ezhr_graphql.api.chat.types import ChatMessage, Citation, MessageStatus
from ezhr_graphql.api.context import Context, Info
from ezhr_graphql.api.errors import UserErrorType
from ezhr_graphql.api.observe import open_subscription
from ezhr_graphql.api.replies.mutations import send_action, start_reply
from ezhr_graphql.api.replies.types import (
    MessageStatusChanged,
    ReplyCitations,
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
    SendMessageInput,
    SentMessage,
    SessionTitleChanged,
    SessionUpdate,
)
from ezhr_graphql.api.scalars import parse_id
from ezhr_graphql.errors import DomainError
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageStatus as MessageStatusModel
from ezhr_graphql.pubsub import BrokerUnavailable, StreamEvent
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.streams import message_from_snapshot, stream_name, user_channel

# Ends a followed stream that went quiet without its end (see coalesced).
_QUIET = StreamEvent(0, "failed", {})
# Reply streams this process is serving now (read by the coalescing window).
_open_streams = [0]


async def coalesced(
    batches: AsyncIterator[list[StreamEvent]],
    window: Callable[[], float] = lambda: 0.0,
    quiet: float | None = None,
) -> AsyncIterator[StreamEvent]:
    """Events of ``batches`` with consecutive deltas merged (a merged delta carries
    the last seq, so resuming after it loses nothing); then ``_QUIET`` (a terminal
    marker) should nothing arrive for ``quiet`` seconds.

    A stream sends at most one delta frame per ``window()`` seconds: the first at
    once, later ones gathering every token that arrived meanwhile. A model slower
    than that (most real ones) sees each token sent as it comes; a faster one, or a
    busy server, gets fewer, larger frames, since a frame costs far more than a
    token.
    """
    loop = asyncio.get_running_loop()
    last_sent = float("-inf")
    pending: list[StreamEvent] = []
    source = batches.__aiter__()
    # The read in flight, kept across frames so a batch is never lost or cut short.
    step: asyncio.Future[list[StreamEvent]] | None = None
    finished = False

    async def take(wait: bool) -> None:
        nonlocal step, finished
        if finished:
            return
        if step is None:
            step = asyncio.ensure_future(source.__anext__())
        if not wait:
            await asyncio.sleep(0)
            if not step.done():
                return
        elif quiet is not None:
            # The read itself is waited on (no task per batch), and never cut short.
            done, _ = await asyncio.wait({step}, timeout=quiet)
            if not done:
                pending.append(_QUIET)
                finished = True
                return
        try:
            pending.extend(await step)
        except StopAsyncIteration:
            finished = True
        step = None

    try:
        while True:
            if not pending:
                await take(wait=True)
                if not pending:
                    return
            event = pending.pop(0)
            if event.kind == "delta":
                wait = window() - (loop.time() - last_sent)
                if wait > 0 and all(e.kind == "delta" for e in pending):
                    # Gather what arrives meanwhile into this frame.
                    await asyncio.sleep(wait)
                    await take(wait=False)
                texts = [event.data["text"]]
                while pending and pending[0].kind == "delta":
                    event = pending.pop(0)
                    texts.append(event.data["text"])
                event = StreamEvent(event.seq, "delta", {"text": "".join(texts)})
                last_sent = loop.time()
            # No extra yield to the loop is needed between frames: the next delta
            # waits out the window, the next batch waits for the broker.
            yield event
            if event.terminal:
                return
    finally:
        if step is not None:
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
        closing = getattr(source, "aclose", None)
        if closing is not None:
            await closing()


def _replayed(row: ChatMessageRow, after: int) -> list[StreamEvent]:
    """The events of a finished reply whose stream has expired, rebuilt from the row,
    for a client that has seen those up to ``after``: all of them from the start, or
    else (the stream's numbering is gone) its end, carrying the whole stored reply."""
    events = [
        StreamEvent(
            1,
            "started",
            {
                "messageId": str(row.id),
                "userMessageId": str(row.parent_id),
                "sessionId": str(row.session_id),
            },
        )
    ]
    if row.citations:
        events.append(StreamEvent(len(events) + 1, "citations", {"citations": row.citations}))
    if row.content:
        events.append(StreamEvent(len(events) + 1, "delta", {"text": row.content}))
    if row.status is MessageStatusModel.FAILED:
        code = row.error_code or "LLM_ERROR"
        events.append(
            StreamEvent(len(events) + 1, "failed", {"code": code, "message": "The reply failed"})
        )
    else:
        events.append(StreamEvent(len(events) + 1, "completed", {}))
    if after > 0:
        return [StreamEvent(after + 1, events[-1].kind, events[-1].data)]
    return events


async def _owned_message(ctx: Context, message_id: uuid.UUID) -> ChatMessageRow:
    row = await _owned_row(ctx, message_id)
    if row is None:
        raise GraphQLError(f"Message {message_id} not found", extensions={"code": "NOT_FOUND"})
    return row


async def _owned_row(ctx: Context, message_id: uuid.UUID) -> ChatMessageRow | None:
    actor = ctx.require_actor()
    async with ctx.db.read() as session:
        return await ChatMessageRepository.from_session(session).owned(message_id, actor.id)


async def _to_graphql(ctx: Context, message_id: uuid.UUID, event: StreamEvent) -> ReplyEvent:
    data = event.data
    if event.kind == "started":
        return ReplyStarted(
            seq=event.seq,
            message_id=strawberry.ID(data["messageId"]),
            user_message_id=strawberry.ID(data["userMessageId"]),
            session_id=strawberry.ID(data["sessionId"]),
        )
    if event.kind == "delta":
        return ReplyDelta(seq=event.seq, text=data["text"])
    if event.kind == "citations":
        return ReplyCitations(
            seq=event.seq, citations=[Citation.from_dict(c) for c in data["citations"]]
        )
    if event.kind == "failed":
        return ReplyFailed(seq=event.seq, code=data["code"], message=data["message"])
    # completed: the stored message, as the event carries it (or as stored)
    row = message_from_snapshot(data.get("message") or {})
    if row is None:
        async with ctx.db.read() as session:
            row = await ChatMessageRepository.from_session(session).get(message_id)
    if row is None:
        return ReplyFailed(seq=event.seq, code="NOT_FOUND", message="The reply was deleted")
    return ReplyCompleted(seq=event.seq, message=ChatMessage.from_model(row))


async def reply_events(
    ctx: Context, message_id: uuid.UUID, after: int, *, just_sent: bool = False
) -> AsyncGenerator[ReplyEvent, None]:
    """``just_sent``: the caller has just stored this reply for the viewer (so it is
    theirs and still being generated)."""
    row = None if just_sent else await _owned_message(ctx, message_id)
    broker = ctx.container.broker
    name = stream_name(message_id)
    chat = ctx.container.settings.chat
    if row is not None and row.status is not MessageStatusModel.STREAMING:
        try:
            last = await broker.last(name)
        except BrokerUnavailable:
            last = None  # the stored reply is all there is to say anyway
        if last is None or last.seq < after:
            # The stream has expired, or is not the one the client followed (a broker
            # that restarted empty lost it): the stored reply tells it all.
            for event in _replayed(row, after):
                yield await _to_graphql(ctx, message_id, event)
            return

    def window() -> float:
        # The more streams this process serves, the larger each frame: the frame
        # rate of the whole process stays bounded while every stream keeps flowing.
        return (chat.coalesce_ms + _open_streams[0] * chat.coalesce_ms_per_stream) / 1000

    grace = chat.stream_end_grace_seconds
    seen = after
    _open_streams[0] += 1
    try:
        while True:
            # Followed until its end, unless it stays quiet: a run stores its reply,
            # then publishes the end, and its process may die in between; a broker
            # that restarted empty may hold an end of a dead run's stream numbered
            # before what the client saw. The stored row then says how it ended.
            quiet = ended = False
            async for event in coalesced(broker.read(name, seen), window, grace):
                if event is _QUIET:
                    quiet = True
                    break
                seen = event.seq
                ended = event.terminal
                yield await _to_graphql(ctx, message_id, event)
            if ended:
                return
            if not quiet:
                # The stream ended by ``seen``: at it (the client saw the end before
                # it asked again), or before it (it is not the stream followed).
                with contextlib.suppress(BrokerUnavailable):
                    last = await broker.last(name)
                    if last is not None and last.terminal and last.seq == seen:
                        return
            # One read per quiet period (or stream that ended before ``seen``).
            row = await _owned_row(ctx, message_id)
            if row is None:
                yield ReplyFailed(seq=seen + 1, code="NOT_FOUND", message="The reply was deleted")
                return
            if row.status is not MessageStatusModel.STREAMING:
                for event in _replayed(row, seen):
                    yield await _to_graphql(ctx, message_id, event)
                return
            if not quiet:
                # The stream ended before ``seen`` yet the reply goes on (or it ends
                # soon: the sweeper stores a dead run's reply before its end).
                await asyncio.sleep(grace)
            # Still being generated: follow on from the last event sent.
    finally:
        _open_streams[0] -= 1


def _error_event(error: UserErrorType) -> ReplyFailed:
    return ReplyFailed(seq=0, code=error.code.name, message=error.message)


@strawberry.type
class ReplySubscriptions:
    @strawberry.subscription(
        description="A reply as it is generated: what the stream holds after `afterSeq`, "
        "then live events, ending with ReplyCompleted or ReplyFailed. Reconnect with the "
        "last `seq` seen to continue without gaps or repeats."
    )
    async def message_stream(
        self, info: Info, message_id: strawberry.ID, after_seq: int = 0
    ) -> AsyncGenerator[ReplyEvent, None]:
        try:
            target = parse_id(message_id, "messageId")
        except DomainError as exc:
            raise GraphQLError(exc.message, extensions={"code": "INVALID_INPUT"}) from exc
        with open_subscription("messageStream"):
            async for event in reply_events(info.context, target, max(0, after_seq)):
                yield event

    @strawberry.subscription(
        description="Send a question and stream its reply in one operation; the first event "
        "(ReplyStarted) carries the IDs. A refused question ends with one ReplyFailed."
    )
    async def chat(self, info: Info, input: SendMessageInput) -> AsyncGenerator[ReplyEvent, None]:
        ctx = info.context
        sent = await start_reply(ctx, send_action(input))
        if not isinstance(sent, SentMessage):
            yield _error_event(sent)
            return
        reply = uuid.UUID(str(sent.assistant_message.id))
        with open_subscription("chat"):
            async for event in reply_events(ctx, reply, 0, just_sent=sent.created):
                yield event

    @strawberry.subscription(
        description="Changes to the viewer's sessions made anywhere (another tab, device or "
        "worker): generated titles and reply status changes."
    )
    async def session_updates(self, info: Info) -> AsyncGenerator[SessionUpdate, None]:
        ctx = info.context
        actor = ctx.require_actor()
        signals = await ctx.container.broker.subscribe(user_channel(actor.id))
        try:
            with open_subscription("sessionUpdates"):
                async for message in signals:
                    if message.get("type") == "title":
                        yield SessionTitleChanged(
                            session_id=strawberry.ID(message["sessionId"]), title=message["title"]
                        )
                    elif message.get("type") == "status":
                        yield MessageStatusChanged(
                            session_id=strawberry.ID(message["sessionId"]),
                            message_id=strawberry.ID(message["messageId"]),
                            status=MessageStatus[message["status"]],
                        )
        finally:
            await signals.aclose()
