"""The knowledge agents answer from: collections of documents, their chunks and vectors.

A document keeps its original bytes in ``document_content`` (the database is the one
place every worker and host can read). Parsing cuts it into ``document_chunk`` rows,
which do not depend on any embedding model. A collection is indexed with one embedding
model at a time; its vectors live in the vector store (``chunk_vector`` in this
database by default) keyed by model and chunk. Changing the model re-embeds in the
background into ``pending_embedding_model_id`` and swaps when every document is done.

Documents and chunks are removed for real when deleted: their vectors must go with them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    Table,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import (
    DESCRIPTION_LENGTH,
    enum_type,
    live_unique,
    name_type,
    text_type,
)

HASH_LENGTH = 64  # sha256, hex
# Tables the pgvector store creates at run time, one per embedding model: not part of
# the migrated schema.
PGVECTOR_PREFIX = "pgvector_"
# The keyword index of chunks (see repositories/keywords.py), created by a migration
# with hand-written SQL per dialect and kept in step by triggers, so no model describes
# it: on SQLite the FTS5 table ``chunk_search`` (with its own ``chunk_search_*``
# tables), ``chunk_search_key`` and ``chunk_search_vocab``; on PostgreSQL the table
# ``chunk_search``. On SQLite, a batch migration of ``document`` or ``document_chunk``
# copies the table and drops its triggers: it must create them again (the migration
# that made them shows how; tests/test_keyword_index.py checks they are all there).
KEYWORD_INDEX = "chunk_search"


class DocumentStatus(StrEnum):
    QUEUED = "QUEUED"
    PARSING = "PARSING"
    EMBEDDING = "EMBEDDING"
    READY = "READY"
    FAILED = "FAILED"


class Collection(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "collection"
    __table_args__ = (live_unique("collection", "name"),)

    name: Mapped[str] = mapped_column(name_type())
    description: Mapped[str] = mapped_column(Unicode(DESCRIPTION_LENGTH), default="")
    embedding_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("embedding_model.id"), index=True
    )
    # Set while the collection is re-embedded with another model; answers keep using
    # ``embedding_model_id`` until the swap.
    pending_embedding_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("embedding_model.id", name="FK__collection__pending_embedding_model"),
        default=None,
    )
    # Bumped whenever the vectors of the collection change, so that every process
    # can tell its in-memory index is stale.
    index_version: Mapped[int] = mapped_column(default=0)


agent_collection = Table(
    "agent_collection",
    Base.metadata,
    Column("agent_id", ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "collection_id",
        ForeignKey("collection.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Document(TimestampedMixin, Base):
    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("collection_id", "content_hash"),)

    collection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("collection.id"), index=True)
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id"), index=True, default=None
    )
    filename: Mapped[str] = mapped_column(name_type())
    kind: Mapped[str] = mapped_column(Unicode(16))
    size_bytes: Mapped[int]
    content_hash: Mapped[str] = mapped_column(Unicode(HASH_LENGTH))
    title: Mapped[str] = mapped_column(name_type(), default="")
    effective_date: Mapped[date | None] = mapped_column(Date, default=None)
    outdated: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Scalar front matter and similar fields read from the file.
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[DocumentStatus] = mapped_column(
        enum_type(DocumentStatus), default=DocumentStatus.QUEUED
    )
    error_code: Mapped[str | None] = mapped_column(Unicode(32), default=None)
    error_reason: Mapped[str | None] = mapped_column(Unicode(DESCRIPTION_LENGTH), default=None)
    chunks_done: Mapped[int] = mapped_column(default=0)
    chunks_total: Mapped[int] = mapped_column(default=0)
    # Bumped by every (re)index request; a job for an older revision gives up.
    revision: Mapped[int] = mapped_column(default=1)
    indexed_at: Mapped[datetime | None] = mapped_column(default=None)


class DocumentContent(Base):
    """The original bytes, apart so that listing documents never loads them."""

    __tablename__ = "document_content"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentChunk(Base):
    __tablename__ = "document_chunk"
    __table_args__ = (Index("IX__document_chunk__document_id__ordinal", "document_id", "ordinal"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    text: Mapped[str] = mapped_column(text_type())
    heading_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    page: Mapped[int | None] = mapped_column(default=None)


class ChunkVector(Base):
    """The embedded vector store: one float32 vector per chunk and model.

    No foreign key to the chunk: vectors of a new index are written before the chunks
    they belong to are swapped in, and a vector whose chunk is gone is simply skipped.
    """

    __tablename__ = "chunk_vector"
    __table_args__ = (
        Index(
            "IX__chunk_vector__embedding_model_id__collection_id__chunk_id",
            "embedding_model_id",
            "collection_id",
            "chunk_id",
        ),
        Index("IX__chunk_vector__document_id", "document_id"),
    )

    embedding_model_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    chunk_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    collection_id: Mapped[uuid.UUID]
    document_id: Mapped[uuid.UUID]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
