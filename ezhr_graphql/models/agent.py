from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import JSON, Float, ForeignKey, Unicode, false
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import (
    DESCRIPTION_LENGTH,
    enum_type,
    live_unique,
    name_type,
    text_type,
)

MAX_STARTER_MESSAGES = 4


class Visibility(StrEnum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


class AnswerMode(StrEnum):
    # The reply is built from the cited passages' own sentences: no model, no invention.
    EXTRACTIVE = "EXTRACTIVE"
    # The LLM writes the reply from the passages, under guards.
    GENERATIVE = "GENERATIVE"


class UnsupportedNumbers(StrEnum):
    """What a generative reply with a number its passages do not hold becomes."""

    # Kept, and marked UNSUPPORTED with the numbers at fault.
    FLAG = "FLAG"
    # Replaced by the no-answer message (the reply is checked before it is streamed).
    REFUSE = "REFUSE"


class Agent(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "agent"
    __table_args__ = (live_unique("agent", "name"),)

    name: Mapped[str] = mapped_column(name_type())
    description: Mapped[str] = mapped_column(Unicode(DESCRIPTION_LENGTH), default="")
    system_prompt: Mapped[str] = mapped_column(text_type(), default="")
    starter_messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    llm_model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("llm_model.id"), index=True)
    embedding_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("embedding_model.id"), index=True
    )
    temperature: Mapped[float] = mapped_column(Float, default=0.2)
    top_k: Mapped[int] = mapped_column(default=4)
    # Retrieval: passages scoring below this cosine similarity are not used.
    similarity_threshold: Mapped[float] = mapped_column(Float, default=0.3)
    include_outdated: Mapped[bool] = mapped_column(default=False)
    # Said instead of an answer when no passage is relevant enough.
    no_answer_message: Mapped[str] = mapped_column(Unicode(DESCRIPTION_LENGTH), default="")
    # New agents answer extractively; agents that existed before answer modes keep
    # answering as they did (the column's default for existing rows).
    answer_mode: Mapped[AnswerMode] = mapped_column(
        enum_type(AnswerMode), default=AnswerMode.EXTRACTIVE, server_default="GENERATIVE"
    )
    # With no READY document to answer from: chat anyway (true), or say the no-answer
    # message (false: an HR assistant must not invent policy).
    general_chat: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Longest generated reply in tokens; None: the server's chat.max_reply_tokens.
    max_tokens: Mapped[int | None] = mapped_column(default=None)
    unsupported_numbers: Mapped[UnsupportedNumbers] = mapped_column(
        enum_type(UnsupportedNumbers), default=UnsupportedNumbers.FLAG, server_default="FLAG"
    )
    # Days a conversation with the agent is kept after its last activity, then removed
    # for real by the retention sweep; None keeps conversations for as long as their
    # owners do.
    retention_days: Mapped[int | None] = mapped_column(default=None)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    visibility: Mapped[Visibility] = mapped_column(enum_type(Visibility), default=Visibility.PUBLIC)
