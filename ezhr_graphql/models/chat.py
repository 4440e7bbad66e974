"""Folders, chat sessions, their messages (a tree, for branches) and feedback."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Unicode, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import DESCRIPTION_LENGTH, enum_type, name_type, text_type


class MessageRole(StrEnum):
    USER = "USER"
    ASSISTANT = "ASSISTANT"
    SYSTEM = "SYSTEM"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    STREAMING = "STREAMING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class FinishReason(StrEnum):
    """Why a reply stopped where it did."""

    STOP = "STOP"  # it said all it had to say
    LENGTH = "LENGTH"  # it reached the agent's token limit
    LOOP = "LOOP"  # it began repeating itself and was cut before the loop
    NO_ANSWER = "NO_ANSWER"  # nothing relevant: the agent said its no-answer message


# The unsupported spans a reply keeps at most: enough to show what was wrong.
MAX_UNSUPPORTED_SPANS = 20


class Grounding(StrEnum):
    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"


class Rating(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class Folder(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "folder"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(name_type())


class ChatSession(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "chat_session"
    __table_args__ = (Index("IX__chat_session__owner_id__created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agent.id"), index=True)
    folder_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("folder.id"), index=True, default=None
    )
    title: Mapped[str] = mapped_column(name_type(), default="")
    pinned: Mapped[bool] = mapped_column(default=False)
    # The leaf of the branch the user is on; the branch is its path to the root.
    current_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_message.id", use_alter=True), default=None
    )


class ChatMessage(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        Index("IX__chat_message__session_id__created_at", "session_id", "created_at"),
        # A client's retry of the same message finds the first one.
        Index(
            "UX__chat_message__session_id__client_message_id",
            "session_id",
            "client_message_id",
            unique=True,
            sqlite_where=text("client_message_id IS NOT NULL"),
            postgresql_where=text("client_message_id IS NOT NULL"),
            mssql_where=text("client_message_id IS NOT NULL"),
        ),
        Index("IX__chat_message__status__updated_at", "status", "updated_at"),
        # Insights read the newest replies with a signal, newest first.
        Index("IX__chat_message__created_at", "created_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_session.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_message.id"), index=True, default=None
    )
    role: Mapped[MessageRole] = mapped_column(enum_type(MessageRole))
    content: Mapped[str] = mapped_column(text_type(), default="")
    status: Mapped[MessageStatus] = mapped_column(
        enum_type(MessageStatus), default=MessageStatus.COMPLETED
    )
    prompt_tokens: Mapped[int | None] = mapped_column(default=None)
    completion_tokens: Mapped[int | None] = mapped_column(default=None)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    client_message_id: Mapped[str | None] = mapped_column(Unicode(100), default=None)
    error_code: Mapped[str | None] = mapped_column(Unicode(50), default=None)
    # Milliseconds from the start of the run to its first token, and to its end.
    time_to_first_token_ms: Mapped[int | None] = mapped_column(default=None)
    latency_ms: Mapped[int | None] = mapped_column(default=None)
    # How a COMPLETED reply ended (None for others, and replies from before it was kept).
    finish_reason: Mapped[FinishReason | None] = mapped_column(
        enum_type(FinishReason), default=None
    )
    # Whether every number, amount, percentage and date of the reply is in a cited
    # passage (None: not checked, e.g. no passages were cited).
    grounding: Mapped[Grounding | None] = mapped_column(enum_type(Grounding), default=None)
    # The spans of the reply its passages do not support (None for replies from
    # before they were kept, as for none).
    unsupported_spans: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    # The seq of the last event of the reply's stream, stored with its outcome: a
    # client resuming after its stream has expired gets the end with its own seq.
    stream_seq: Mapped[int | None] = mapped_column(default=None)
    # The relevance of the best passage retrieved for the question (Passage.score),
    # None when nothing was searched: a low one tells HR the handbook lacks the answer.
    best_score: Mapped[float | None] = mapped_column(Float, default=None)


class ChatFeedback(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "chat_feedback"
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_message.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    rating: Mapped[Rating] = mapped_column(enum_type(Rating))
    comment: Mapped[str | None] = mapped_column(Unicode(DESCRIPTION_LENGTH), default=None)
