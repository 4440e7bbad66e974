"""Sending, regenerating, stopping and rating messages; branches of a conversation.

A question and its reply are stored in one transaction; the reply's run starts once
that commits (so it reads what was stored), wherever the caller is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import after_commit, utcnow
from ezhr_graphql.errors import (
    ConflictError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
)
from ezhr_graphql.models import (
    ChatFeedback,
    ChatMessage,
    ChatSession,
    MessageRole,
    MessageStatus,
    Rating,
)
from ezhr_graphql.models.types import DESCRIPTION_LENGTH
from ezhr_graphql.repositories.chat import (
    ChatFeedbackRepository,
    ChatMessageRepository,
    ChatSessionRepository,
)
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services import conversation, validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.throttle import RateLimiter
from ezhr_graphql.settings import ChatSettings

CLIENT_ID_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Sent:
    """A user message and the assistant message answering it. ``created`` is false
    when a retry found them already there (nothing new to run)."""

    session: ChatSession
    user_message: ChatMessage
    reply: ChatMessage
    created: bool


class Runs(Protocol):
    """Where replies are generated (see ``RunManager``)."""

    def launch(self, message_id: uuid.UUID) -> None:
        """Start the run of a reply stored as ``STREAMING``."""

    async def request_stop(self, message_id: uuid.UUID) -> None:
        """Ask the run of a reply to stop, in whichever process it runs."""


class MessageService:
    def __init__(
        self,
        session: AsyncSession,
        settings: ChatSettings,
        runs: Runs,
        run_rate: RateLimiter | None = None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.runs = runs
        # Replies started per minute; None when rate limits are off.
        self.run_rate = run_rate
        self.sessions = ChatSessionRepository.from_session(session)
        self.messages = ChatMessageRepository.from_session(session)
        self.feedback = ChatFeedbackRepository.from_session(session)
        self.users = UserRepository.from_session(session)

    async def _session(
        self, actor: Actor, session_id: uuid.UUID, *, lock: bool = False
    ) -> ChatSession:
        chat = await self.sessions.get_owned(session_id, actor.id, lock=lock)
        if chat is None:
            raise NotFoundError("Chat session", session_id)
        return chat

    async def message(self, actor: Actor, message_id: uuid.UUID) -> ChatMessage:
        """Raises:
        NotFoundError: no such message in the actor's own sessions.
        """
        message = await self.messages.owned(message_id, actor.id)
        if message is None:
            raise NotFoundError("Message", message_id)
        return message

    async def _room_for_a_run(self, actor: Actor, chat: ChatSession) -> None:
        """Raises:
        ConflictError: this session already has a reply being generated.
        LimitExceededError: the actor has as many replies being generated as allowed,
            or started as many this minute (a RateLimitedError).
        """
        # Locked: sends to several of the user's sessions at once count one by one.
        await self.users.lock(actor.id)
        running = await self.messages.streaming(actor.id)
        if any(session_id == chat.id for _, session_id in running):
            raise ConflictError(
                "Wait for the current reply, or stop it, before asking again", "sessionId"
            )
        limit = self.settings.max_concurrent_runs_per_user
        if len(running) >= limit:
            raise LimitExceededError(
                "concurrentReplies",
                f"At most {limit} replies can be generated at once; wait or stop one",
            )
        if self.run_rate is not None:
            # Counted last, so refusals above do not use up the allowance.
            try:
                await self.run_rate.run(actor.id)
            except LimitExceededError:
                raise
            except Exception:
                # The counter's store (Redis) failed or timed out (the limiter waits
                # briefly, as the user row is locked): the reply starts unlimited, as
                # requests go through in the HTTP middleware.
                self.run_rate.unavailable()

    def _reply_to(self, chat: ChatSession, user_message: ChatMessage) -> ChatMessage:
        """A new reply to ``user_message``, made current; its run starts once the
        transaction commits."""
        reply = self.messages.add(
            ChatMessage(
                id=uuid.uuid4(),
                session_id=chat.id,
                parent_id=user_message.id,
                role=MessageRole.ASSISTANT,
                content="",
                status=MessageStatus.STREAMING,
            )
        )
        chat.current_message_id = reply.id
        chat.updated_at = utcnow()
        reply_id = reply.id
        after_commit(self.session, lambda: self.runs.launch(reply_id))
        return reply

    async def send(
        self,
        actor: Actor,
        session_id: uuid.UUID,
        content: str,
        client_message_id: str,
        parent_id: uuid.UUID | None = None,
    ) -> Sent:
        """Store a user message and the assistant message that will answer it.

        ``parent_id`` names the message the new one follows (an earlier turn, to
        edit and branch); by default it follows the session's current branch.

        Raises:
            NotFoundError, InvalidInputError, LimitExceededError.
        """
        # Locked: two sends to one session cannot both find it idle.
        chat = await self._session(actor, session_id, lock=True)
        key = validation.text("clientMessageId", client_message_id, CLIENT_ID_LENGTH)
        existing = await self.messages.by_client_id(chat.id, key)
        if existing is not None:
            reply = await self.messages.first_child(existing.id)
            if reply is not None:
                return Sent(chat, existing, reply, created=False)
        text = validation.text("content", content, 10 * self.settings.max_message_length)
        if len(text) > self.settings.max_message_length:
            raise LimitExceededError(
                "messageLength",
                f"A message has at most {self.settings.max_message_length} characters",
            )
        if parent_id is not None:
            parent = await self.messages.get(parent_id)
            if parent is None or parent.session_id != chat.id:
                raise InvalidInputError(
                    "parentMessageId", "parentMessageId is not a message of this session"
                )
            if parent.role is not MessageRole.ASSISTANT:
                raise InvalidInputError(
                    "parentMessageId", "a question follows a reply: name an assistant message"
                )
        else:
            parent_id = chat.current_message_id
        await self._room_for_a_run(actor, chat)
        user_message = self.messages.add(
            ChatMessage(
                id=uuid.uuid4(),
                session_id=chat.id,
                parent_id=parent_id,
                role=MessageRole.USER,
                content=text,
                status=MessageStatus.COMPLETED,
                client_message_id=key,
            )
        )
        reply = self._reply_to(chat, user_message)
        await self.messages.flush()
        return Sent(chat, user_message, reply, created=True)

    async def regenerate(self, actor: Actor, message_id: uuid.UUID) -> Sent:
        """A new reply to the same question, as a sibling of ``message_id``.

        Raises:
            NotFoundError, InvalidInputError, ConflictError, LimitExceededError.
        """
        old = await self.message(actor, message_id)
        if old.role is not MessageRole.ASSISTANT or old.parent_id is None:
            raise InvalidInputError("messageId", "only a reply can be regenerated")
        chat = await self._session(actor, old.session_id, lock=True)
        question = await self.messages.get(old.parent_id)
        if question is None:
            raise NotFoundError("Message", old.parent_id)
        await self._room_for_a_run(actor, chat)
        reply = self._reply_to(chat, question)
        await self.messages.flush()
        return Sent(chat, question, reply, created=True)

    async def switch_branch(self, actor: Actor, message_id: uuid.UUID) -> ChatSession:
        """Make the branch through ``message_id`` current (down to its newest leaf)."""
        message = await self.message(actor, message_id)
        chat = await self._session(actor, message.session_id)
        tree = conversation.children(await self.messages.in_session(chat.id))
        chat.current_message_id = conversation.newest_leaf(tree, message.id)
        await self.sessions.flush()
        return chat

    async def stop(self, actor: Actor, message_id: uuid.UUID) -> ChatMessage:
        """Ask the run of the actor's reply to stop, wherever it runs; the reply as it
        was when asked.

        Raises:
            NotFoundError, ConflictError: the reply is not being generated.
        """
        message = await self.message(actor, message_id)
        if message.status is not MessageStatus.STREAMING:
            raise ConflictError(
                f"This reply is not being generated (it is {message.status.value})", "messageId"
            )
        await self.runs.request_stop(message.id)
        return message

    async def rate(
        self, actor: Actor, message_id: uuid.UUID, rating: Rating, comment: str | None
    ) -> ChatFeedback:
        """Rate a reply; rating again replaces the earlier rating."""
        message = await self.message(actor, message_id)
        if message.role is not MessageRole.ASSISTANT:
            raise InvalidInputError("messageId", "only replies can be rated")
        note = (
            None
            if comment is None
            else validation.text("comment", comment, DESCRIPTION_LENGTH, required=False) or None
        )
        feedback = await self.feedback.of(message.id, actor.id)
        if feedback is None:
            feedback = self.feedback.add(
                ChatFeedback(message_id=message.id, user_id=actor.id, rating=rating, comment=note)
            )
        else:
            feedback.rating = rating
            feedback.comment = note
        await self.feedback.flush()
        return feedback
