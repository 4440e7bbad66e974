"""A document's new chunks: read and cut from its bytes, then swapped in for its old
ones.

Parsing is synchronous and runs on a background thread, below the event loop in CPU
priority. The new chunks' vectors are written beside the old ones' and the chunks
swapped in by one short transaction under the collection's lock, so a failed or
superseded run leaves what was indexed intact.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.models import Document, DocumentStatus, EmbeddingModel
from ezhr_graphql.models.types import NAME_LENGTH
from ezhr_graphql.rag.parsing import (
    Chunk,
    ParsedDocument,
    ParseError,
    chunk_document,
    parse_document,
)
from ezhr_graphql.rag.threads import run_in_background
from ezhr_graphql.repositories.knowledge import (
    ChunkRepository,
    CollectionRepository,
    DocumentRepository,
)
from ezhr_graphql.services.ingestion.embedding import embedding_text
from ezhr_graphql.services.ingestion.progress import Failed
from ezhr_graphql.settings import KnowledgeSettings

# swap_chunks's answer when the collection moved to a model the new chunks lack.
RETRY: list[uuid.UUID] = []


@dataclass(frozen=True, slots=True)
class Source:
    """A document revision as a run found it; ``data`` or ``collection_id`` is
    ``None`` when its bytes or its collection are gone."""

    document_id: uuid.UUID
    revision: int
    collection_id: uuid.UUID | None
    filename: str
    title: str
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Target:
    """The document revision a run indexes, and the collection its vectors belong to."""

    document_id: uuid.UUID
    revision: int
    collection_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class NewChunks:
    """A parsed document's chunks, the ids they will be stored under, the title they
    are embedded under, and the text embedded for each."""

    parsed: ParsedDocument
    chunks: list[Chunk]
    ids: list[uuid.UUID]
    title: str
    texts: list[str]

    @classmethod
    def of(cls, parsed: ParsedDocument, chunks: list[Chunk], title: str) -> NewChunks:
        return cls(
            parsed,
            chunks,
            [uuid.uuid4() for _ in chunks],
            title,
            [embedding_text(title, c.heading_path, c.text) for c in chunks],
        )

    def rows(self, document_id: uuid.UUID) -> list[dict[str, Any]]:
        return [
            {
                "id": chunk_id,
                "document_id": document_id,
                "ordinal": chunk.ordinal,
                "text": chunk.text,
                "heading_path": list(chunk.heading_path),
                "page": chunk.page,
            }
            for chunk_id, chunk in zip(self.ids, self.chunks, strict=True)
        ]


async def read_source(db: Database, document_id: uuid.UUID, revision: int) -> Source | None:
    """The document's ``revision`` to index, or ``None`` if the document is gone, has a
    newer revision, or is indexed already."""
    async with db.read() as session:
        documents = DocumentRepository.from_session(session)
        doc = await documents.get(document_id)
        if doc is None or doc.revision != revision or doc.status is DocumentStatus.READY:
            return None
        data = await documents.content(document_id)
        collection = await CollectionRepository.from_session(session).get(doc.collection_id)
    collection_id = collection.id if collection is not None else None
    return Source(document_id, revision, collection_id, doc.filename, doc.title, data)


def parse_and_chunk(
    data: bytes, filename: str, settings: KnowledgeSettings
) -> tuple[ParsedDocument, list[Chunk]]:
    parsed = parse_document(data, filename)
    chunks = chunk_document(
        parsed, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
    )
    return parsed, chunks


async def cut(data: bytes, source: Source, settings: KnowledgeSettings) -> NewChunks:
    """Parse the document's bytes on a background thread and cut them into new chunks.

    Raises:
        Failed: the file cannot be read as text (the parser's code), or ``NO_TEXT``.
    """
    try:
        parsed, chunks = await run_in_background(parse_and_chunk, data, source.filename, settings)
    except ParseError as exc:
        raise Failed(exc.code, exc.reason) from exc
    if not chunks:
        raise Failed("NO_TEXT", "The document contains no text to index")
    # Cut to what the document's row keeps: re-embedding reads the title from there,
    # and must embed the same text as this first indexing.
    title = (source.title or parsed.title or source.filename)[:NAME_LENGTH]
    return NewChunks.of(parsed, chunks, title)


async def swap_chunks(
    db: Database, target: Target, new: NewChunks, embedded: Sequence[EmbeddingModel]
) -> list[uuid.UUID] | None:
    """Replace the document's chunks in one transaction; the old chunk ids,
    ``None`` if the document changed or went away meanwhile, or ``RETRY`` if the
    collection now uses a model the new chunks have no vectors for."""
    async with db.transaction() as session:
        documents = DocumentRepository.from_session(session)
        chunk_rows = ChunkRepository.from_session(session)
        collection = await CollectionRepository.from_session(session).lock(target.collection_id)
        doc = await documents.get(target.document_id)
        if doc is None or collection is None or doc.revision != target.revision:
            return None
        have = {m.id for m in embedded}
        needed = {collection.embedding_model_id, collection.pending_embedding_model_id}
        if not (needed - {None}) <= have:
            return RETRY
        old_ids = await chunk_rows.ids_of_document(target.document_id)
        await chunk_rows.delete_of_document(target.document_id)
        await chunk_rows.insert_many(new.rows(target.document_id))
        _describe(doc, new)
        await CollectionRepository.from_session(session).bump(target.collection_id)
    return old_ids


def _describe(doc: Document, new: NewChunks) -> None:
    """Record on the document what indexing it found."""
    parsed, total = new.parsed, len(new.chunks)
    doc.kind = parsed.kind.value
    doc.chunks_done = doc.chunks_total = total
    doc.indexed_at = utcnow()
    # What the admin gave wins over what the file says. Otherwise the title the
    # chunks were embedded under, so that re-embedding them embeds the same text.
    if not doc.title:
        doc.title = new.title
    if doc.effective_date is None:
        doc.effective_date = parsed.effective_date
    if not doc.tags:
        doc.tags = list(parsed.tags)
    doc.properties = dict(parsed.metadata)
