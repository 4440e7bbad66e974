"""Catalogue of the models agents run on: embedding models and LLMs."""

from __future__ import annotations

from sqlalchemy import Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import DESCRIPTION_LENGTH, URL_LENGTH, live_unique, name_type


class EmbeddingModel(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "embedding_model"
    __table_args__ = (live_unique("embedding_model", "name"),)

    name: Mapped[str] = mapped_column(name_type())
    description: Mapped[str] = mapped_column(Unicode(DESCRIPTION_LENGTH), default="")
    provider: Mapped[str] = mapped_column(Unicode(50))
    model_name: Mapped[str] = mapped_column(name_type())
    dimensions: Mapped[int]
    base_url: Mapped[str | None] = mapped_column(Unicode(URL_LENGTH), default=None)
    # As for LLMs: the name of a secret in settings, never the secret itself.
    secret_ref: Mapped[str | None] = mapped_column(name_type(), default=None)


class LlmModel(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "llm_model"
    __table_args__ = (live_unique("llm_model", "name"),)

    name: Mapped[str] = mapped_column(name_type())
    description: Mapped[str] = mapped_column(Unicode(DESCRIPTION_LENGTH), default="")
    provider: Mapped[str] = mapped_column(Unicode(50))
    model_name: Mapped[str] = mapped_column(name_type())
    base_url: Mapped[str | None] = mapped_column(Unicode(URL_LENGTH), default=None)
    context_window: Mapped[int] = mapped_column(default=4096)
    # The name of a secret in settings (e.g. an API key variable), never the secret
    # itself, and never exposed through the API.
    secret_ref: Mapped[str | None] = mapped_column(name_type(), default=None)
