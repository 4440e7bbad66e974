"""Asking a question as a chat client does: the question is stored with the
``MessageService`` (its reply's run starts once that commits), then the reply's typed
events are followed from its stream until it ends, with no shortcut around retrieval,
answering or the stream."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ezhr_graphql.container import Container
from ezhr_graphql.errors import (
    ConflictError,
    DomainError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
)
from ezhr_graphql.models import ChatMessage, MessageStatus
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyCitations,
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
)

_REFUSALS: list[tuple[type[DomainError], FailureCode]] = [
    (NotFoundError, FailureCode.NOT_FOUND),
    (InvalidInputError, FailureCode.INVALID_INPUT),
    (LimitExceededError, FailureCode.LIMIT_EXCEEDED),
    (ConflictError, FailureCode.CONFLICT),
    (PermissionDeniedError, FailureCode.PERMISSION_DENIED),
]


@dataclass
class Answer:
    """What one question got, as the client saw it."""

    # The citations streamed before the first token.
    citations: list[dict[str, Any]] = field(default_factory=list)
    # The text of the deltas, in order.
    streamed: str = ""
    # The stored reply the stream's end carried (None if the question was refused
    # before a reply started, or the end carried none).
    message: ChatMessage | None = None
    # COMPLETED, CANCELLED or FAILED, from the stream's end; FAILED when refused.
    status: MessageStatus = MessageStatus.FAILED
    # Why it failed: a FailureCode value, and words for people.
    error: str | None = None
    reason: str | None = None
    # Milliseconds from the send to the first delta, measured here.
    first_delta_ms: float | None = None

    @property
    def text(self) -> str:
        """The reply the client ends up showing: the stored one, else what streamed."""
        if self.message is not None and self.message.content:
            return self.message.content
        return self.streamed


class Asker:
    """Asks questions of one agent as one user, through the services a chat client
    reaches."""

    def __init__(self, container: Container, actor: Actor, agent_id: uuid.UUID) -> None:
        self.container = container
        self.actor = actor
        self.agent_id = agent_id

    async def open_session(self, title: str) -> uuid.UUID:
        """A new conversation with the agent."""
        async with self.container.db.transaction() as session:
            chat = await self.container.services(session).chat_sessions.create(
                self.actor, self.agent_id, title
            )
            return chat.id

    async def ask(self, session_id: uuid.UUID, question: str) -> Answer:
        """Send ``question`` in the conversation and follow its reply to its end."""
        answer = Answer()
        started = time.perf_counter()
        try:
            async with self.container.db.transaction() as session:
                sent = await self.container.services(session).messages.send(
                    self.actor, session_id, question, uuid.uuid4().hex
                )
            events = self.container.replies.follow(
                self.actor.id, sent.reply.id, 0, just_sent=sent.created
            )
            async for event in events:
                _take(answer, event, started)
        except DomainError as exc:
            answer.status, answer.error, answer.reason = (
                MessageStatus.FAILED,
                _code(exc).value,
                exc.message,
            )
        return answer


def _take(answer: Answer, event: ReplyEvent, started: float) -> None:
    if isinstance(event, ReplyCitations):
        answer.citations = list(event.citations)
    elif isinstance(event, ReplyDelta):
        if answer.first_delta_ms is None:
            answer.first_delta_ms = (time.perf_counter() - started) * 1000
        answer.streamed += event.text
    elif isinstance(event, ReplyCompleted):
        answer.message = event.message
        answer.status = MessageStatus.COMPLETED
        if event.message is not None:
            answer.status = event.message.status
    elif isinstance(event, ReplyFailed):
        answer.message = event.message
        answer.status = MessageStatus.FAILED
        answer.error, answer.reason = event.code.value, event.reason


def _code(exc: DomainError) -> FailureCode:
    for kind, code in _REFUSALS:
        if isinstance(exc, kind):
            return code
    return FailureCode.INTERNAL_ERROR
