"""Streaming replies over websockets, and per-user session updates.

``messageStream`` replays what a reply's stream already holds after ``afterSeq`` and
then follows it live (see ``services.replies.follow``), so a client that reconnects,
to this worker or another, gets every later event once, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import strawberry
from graphql import GraphQLError

from ezhr_graphql.api.graphql.context import Context, Info
from ezhr_graphql.api.graphql.errors import as_top_level
from ezhr_graphql.api.graphql.observe import open_subscription
from ezhr_graphql.api.graphql.replies.events import failed, reply_event, session_update
from ezhr_graphql.api.graphql.replies.mutations import send_action, start_reply
from ezhr_graphql.api.graphql.replies.types import (
    ReplyEvent,
    SendMessageInput,
    SentMessage,
    SessionUpdate,
)
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.errors import DomainError
from ezhr_graphql.services.replies.events import ReplyEvent as ServiceReplyEvent


async def _converted(events: AsyncIterator[ServiceReplyEvent]) -> AsyncIterator[ReplyEvent]:
    """The follower's events as GraphQL types; its refusals as top-level errors
    carrying their code (``INVALID_INPUT`` on ``afterSeq``, ``NOT_FOUND``)."""
    try:
        async for event in events:
            yield reply_event(event)
    except DomainError as exc:
        raise as_top_level(exc) from exc


def _follow(
    ctx: Context, message_id: uuid.UUID, after: int, *, just_sent: bool = False
) -> AsyncIterator[ReplyEvent]:
    actor = ctx.require_actor()
    replies = ctx.container.replies
    return _converted(replies.follow(actor.id, message_id, after, just_sent=just_sent))


@strawberry.type
class ReplySubscriptions:
    @strawberry.subscription(
        description="A reply as it is generated: what the stream holds after `afterSeq`, "
        "then live events, ending with ReplyCompleted or ReplyFailed. Reconnect with the "
        "last `seq` seen to continue without gaps or repeats (below 0: from the start). An "
        "`afterSeq` past the end of the reply's stream is refused (INVALID_INPUT)."
    )
    async def message_stream(
        self, info: Info, message_id: strawberry.ID, after_seq: int = 0
    ) -> AsyncGenerator[ReplyEvent, None]:
        try:
            target = parse_id(message_id, "messageId")
        except DomainError as exc:
            raise GraphQLError(exc.message, extensions={"code": "INVALID_INPUT"}) from exc
        with open_subscription("messageStream"):
            async for event in _follow(info.context, target, after_seq):
                yield event

    @strawberry.subscription(
        description="Send a question and stream its reply in one operation; the first event "
        "(ReplyStarted) carries the IDs. A refused question ends with one ReplyFailed."
    )
    async def chat(self, info: Info, input: SendMessageInput) -> AsyncGenerator[ReplyEvent, None]:
        ctx = info.context
        sent = await start_reply(ctx, send_action(input))
        if not isinstance(sent, SentMessage):
            yield failed(0, sent.code.name, sent.message)
            return
        reply = uuid.UUID(str(sent.assistant_message.id))
        with open_subscription("chat"):
            async for event in _follow(ctx, reply, 0, just_sent=sent.created):
                yield event

    @strawberry.subscription(
        description="Changes to the viewer's sessions made anywhere (another tab, device or "
        "worker): generated titles and reply status changes."
    )
    async def session_updates(self, info: Info) -> AsyncGenerator[SessionUpdate, None]:
        ctx = info.context
        actor = ctx.require_actor()
        with open_subscription("sessionUpdates"):
            async for update in ctx.container.session_updates.follow(actor.id):
                yield session_update(update)
