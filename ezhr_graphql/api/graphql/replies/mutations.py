"""Sending, stopping and regenerating replies; switching branches; rating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.chat.types import ChatMessage, ChatSession, ChatSessionResult
from ezhr_graphql.api.graphql.context import Context, Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.loaders import Loaders
from ezhr_graphql.api.graphql.replies.types import (
    ChatMessageResult,
    Feedback,
    FeedbackResult,
    Rating,
    SendMessageInput,
    SendMessageResult,
    SentMessage,
)
from ezhr_graphql.api.graphql.scalars import parse_id, parse_optional_id
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.messages import MessageService, Sent

SendAction = Callable[[MessageService, Actor], Awaitable[Sent]]


def sent_message(sent: Sent, loaders: Loaders) -> SentMessage:
    return SentMessage(
        session=ChatSession.from_model(sent.session, loaders),
        user_message=ChatMessage.from_model(sent.user_message),
        assistant_message=ChatMessage.from_model(sent.reply),
        created=sent.created,
    )


def start_reply(ctx: Context, action: SendAction) -> Awaitable[SentMessage | UserErrorType]:
    """Store the question and its reply in one short transaction; the reply's run
    starts once it commits (so the run reads what was stored). Concurrent retries
    with one clientMessageId queue on the session's row lock (SQLite: on its single
    writer), so the later one finds the first message."""
    return resolve.change(
        ctx, lambda s, a: action(s.messages, a), lambda sent: sent_message(sent, ctx.loaders)
    )


def send_action(input: SendMessageInput) -> SendAction:
    return lambda service, actor: service.send(
        actor,
        parse_id(input.session_id, "sessionId"),
        input.content,
        input.client_message_id,
        parse_optional_id(input.parent_message_id, "parentMessageId"),
    )


@strawberry.type
class ReplyMutations:
    @strawberry.mutation(
        description="Ask a question: stores it and a STREAMING reply, starts generating the "
        "reply, and returns at once. Follow the reply with `messageStream`."
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessageResult:
        return await start_reply(info.context, send_action(input))

    @strawberry.mutation(
        description="Generate another reply to the same question, as a new branch."
    )
    async def regenerate_message(self, info: Info, message_id: strawberry.ID) -> SendMessageResult:
        return await start_reply(
            info.context, lambda s, a: s.regenerate(a, parse_id(message_id, "messageId"))
        )

    @strawberry.mutation(
        description="Stop a reply being generated, wherever it runs; the partial text is kept "
        "and the reply ends CANCELLED."
    )
    async def stop_generation(self, info: Info, message_id: strawberry.ID) -> ChatMessageResult:
        return await resolve.query(
            info.context,
            lambda s, a: s.messages.stop(a, parse_id(message_id, "messageId")),
            ChatMessage.from_model,
        )

    @strawberry.mutation(
        description="Make the branch through a message current (down to its newest reply)."
    )
    async def switch_branch(self, info: Info, message_id: strawberry.ID) -> ChatSessionResult:
        ctx = info.context
        return await resolve.change(
            ctx,
            lambda s, a: s.messages.switch_branch(a, parse_id(message_id, "messageId")),
            lambda row: ChatSession.from_model(row, ctx.loaders),
        )

    @strawberry.mutation(description="Rate a reply; rating again replaces the earlier rating.")
    async def rate_message(
        self,
        info: Info,
        message_id: strawberry.ID,
        rating: Rating,
        comment: str | None = None,
    ) -> FeedbackResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.messages.rate(
                a, parse_id(message_id, "messageId"), rating.to_model(), comment
            ),
            Feedback.from_model,
        )
