"""Approved answers: an administrator's answer to a question employees ask, said
instead of a generated or quoted reply when someone asks that question again.

An answer has one or more phrasings of its question (the ways employees put it) and
may have an audience, with the same rule as knowledge's (see models/audience.py).
Retiring an answer stops its use and keeps it for the record.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.audience import AudienceAttribute
from ezhr_graphql.models.types import (
    ATTRIBUTE_LENGTH,
    LANGUAGE_LENGTH,
    enum_type,
    text_type,
)
from ezhr_graphql.models.user import Role

MAX_PHRASINGS = 20
PHRASING_LENGTH = 500


class ApprovedAnswer(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "approved_answer"

    # The agent it answers for; None: every agent.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent.id"), index=True, default=None
    )
    # The ways the question is put, the first its title; each at most PHRASING_LENGTH.
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(text_type())
    # The language of the questions and the answer (a BCP 47 primary tag: en, vi).
    language: Mapped[str] = mapped_column(Unicode(LANGUAGE_LENGTH))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    # The author's role when they approved it, shown with the answer.
    author_role: Mapped[Role] = mapped_column(enum_type(Role))
    approved_at: Mapped[datetime]
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    hit_count: Mapped[int] = mapped_column(default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(default=None)


class ApprovedAnswerAudience(Base):
    __tablename__ = "approved_answer_audience"

    approved_answer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("approved_answer.id", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[AudienceAttribute] = mapped_column(
        enum_type(AudienceAttribute), primary_key=True
    )
    value: Mapped[str] = mapped_column(Unicode(ATTRIBUTE_LENGTH), primary_key=True)
