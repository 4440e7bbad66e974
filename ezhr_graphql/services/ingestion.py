"""Ingestion: a stored document becomes chunks and vectors, off the request path.

Parsing and embedding run in worker threads; the event loop only moves rows. A
document's new chunks and vectors are written beside the old ones and swapped in by
one short transaction, so a failed or superseded run leaves what was indexed intact.
Progress goes to the database (the status a query shows) and to the broker channel
``ingest:<document id>`` (what ``ingestionProgress`` follows).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import update

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.models import (
    Document,
    DocumentStatus,
    EmbeddingModel,
)
from ezhr_graphql.observe.metrics import INGESTED, INGESTION_FAILURES, INGESTION_QUEUE_DEPTH
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.rag import EmbeddingSpec, LLMError, ModelRegistry
from ezhr_graphql.rag.parsing import Chunk, ParseError, chunk_document, parse_document
from ezhr_graphql.repositories.knowledge import (
    ChunkRepository,
    CollectionRepository,
    DocumentRepository,
)
from ezhr_graphql.settings import KnowledgeSettings
from ezhr_graphql.vectors import VectorRows, Vectors, VectorStore

logger = logging.getLogger(__name__)

TERMINAL = (DocumentStatus.READY, DocumentStatus.FAILED)
# _swap's answer when the collection moved to a model the new chunks lack.
RETRY: list[uuid.UUID] = []


def progress_channel(document_id: uuid.UUID) -> str:
    return f"ingest:{document_id}"


@dataclass(frozen=True, slots=True)
class IngestJob:
    """One unit of ingestion work, small enough to travel through a queue."""

    kind: Literal["document", "collection"]
    target_id: str
    revision: int = 0  # documents: the revision the job indexes
    embedding_model_id: str | None = None  # collections: the model to re-embed with

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target_id}:{self.revision}:{self.embedding_model_id or ''}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IngestJob:
        return cls(
            kind=raw["kind"],
            target_id=str(raw["target_id"]),
            revision=int(raw.get("revision", 0)),
            embedding_model_id=raw.get("embedding_model_id"),
        )

    @classmethod
    def document(cls, row: Document) -> IngestJob:
        return cls("document", str(row.id), row.revision)

    @classmethod
    def reembed(cls, collection_id: uuid.UUID, model_id: uuid.UUID) -> IngestJob:
        return cls("collection", str(collection_id), 0, str(model_id))


class IngestionQueue(Protocol):
    async def submit(self, job: IngestJob) -> None: ...

    async def depth(self) -> int: ...


class _Failed(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_and_chunk(
    data: bytes, filename: str, settings: KnowledgeSettings
) -> tuple[Any, list[Chunk]]:
    parsed = parse_document(data, filename)
    chunks = chunk_document(
        parsed, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
    )
    return parsed, chunks


def embedding_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """What is embedded for a chunk: its text under the document's title and headings,
    so that a passage is found by what it is about, not only by its own words (the
    stored text, quoted in citations, stays as written)."""
    context = " > ".join(part for part in (title, *heading_path) if part)
    return f"{context}\n{text}" if context else text


def embedding_spec(
    row: EmbeddingModel, secret: Callable[[str | None], str | None]
) -> EmbeddingSpec:
    return EmbeddingSpec(
        provider=row.provider,
        model_name=row.model_name,
        dimensions=row.dimensions,
        base_url=row.base_url,
        api_key=secret(row.secret_ref),
    )


class Ingestion:
    """Runs ingestion jobs. Shared by the in-process queue and the worker command."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        store: VectorStore,
        models: ModelRegistry,
        settings: KnowledgeSettings,
        secret: Callable[[str | None], str | None],
    ) -> None:
        self.db = db
        self.broker = broker
        self.store = store
        self.models = models
        self.settings = settings
        self.secret = secret

    async def run(self, job: IngestJob) -> None:
        try:
            target = uuid.UUID(job.target_id)
        except ValueError:
            logger.warning("ignoring an ingestion job with a malformed id")
            return
        if job.kind == "document":
            await self.ingest_document(target, job.revision)
        elif job.embedding_model_id is not None:
            await self.reembed_collection(target, uuid.UUID(job.embedding_model_id))

    # --- progress -------------------------------------------------------------

    async def _progress(
        self,
        document_id: uuid.UUID,
        revision: int,
        status: DocumentStatus,
        done: int,
        total: int,
        error: _Failed | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "chunks_done": done, "chunks_total": total}
        if status is not DocumentStatus.FAILED:
            values.update(error_code=None, error_reason=None)
        else:
            assert error is not None
            values.update(error_code=error.code, error_reason=error.reason)
        async with self.db.transaction() as session:
            # Only the current revision reports: a superseded run stays quiet.
            result = await session.execute(
                update(Document)
                .where(Document.id == document_id, Document.revision == revision)
                .values(**values, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        if getattr(result, "rowcount", 0) == 1:
            if status is DocumentStatus.READY:
                INGESTED.labels("ready").inc()
            elif status is DocumentStatus.FAILED and error is not None:
                INGESTED.labels("failed").inc()
                INGESTION_FAILURES.labels(error.code).inc()
            await self.publish(document_id, status, done, total, error)

    async def forget_document(self, document_id: uuid.UUID, collection_id: uuid.UUID) -> None:
        """After a document's rows are deleted: its vectors go, every process reloads,
        and anyone following its ingestion hears the end."""
        try:
            await self.store.delete_document(document_id)
            async with self.db.transaction() as session:
                await CollectionRepository.from_session(session).bump(collection_id)
        except Exception:  # orphan vectors are skipped by searches
            logger.warning("could not remove a deleted document's vectors", exc_info=True)
        await self.publish(
            document_id,
            DocumentStatus.FAILED,
            0,
            0,
            _Failed("DELETED", "The document was deleted"),
        )

    async def abandon_move(
        self, collection_id: uuid.UUID, model_id: uuid.UUID, failure: _Failed
    ) -> None:
        """Cancel a collection's move to a model that fails; it keeps its model."""
        logger.warning(
            "collection %s stays on its embedding model: the new one failed (%s)",
            collection_id,
            failure.code,
        )
        async with self.db.transaction() as session:
            collection = await CollectionRepository.from_session(session).lock(collection_id)
            if collection is not None and collection.pending_embedding_model_id == model_id:
                collection.pending_embedding_model_id = None
        await self.store.delete_collection(model_id, collection_id)

    async def publish(
        self,
        document_id: uuid.UUID,
        status: DocumentStatus,
        done: int,
        total: int,
        error: _Failed | None = None,
    ) -> None:
        try:
            await self.broker.publish(
                progress_channel(document_id),
                {
                    "documentId": str(document_id),
                    "status": status.value,
                    "chunksDone": done,
                    "chunksTotal": total,
                    "errorCode": error.code if error else None,
                    "errorReason": error.reason if error else None,
                },
            )
        except Exception:  # progress is best effort; the row holds the truth
            logger.warning("could not publish ingestion progress", exc_info=True)

    # --- embedding ------------------------------------------------------------

    async def _embedding_models(self, collection_id: uuid.UUID) -> list[EmbeddingModel]:
        """The collection's model, then the one it is moving to (if any), as now."""
        async with self.db.read() as session:
            collection = await CollectionRepository.from_session(session).get(collection_id)
            if collection is None:
                raise _Failed("NOT_FOUND", "The document's collection no longer exists")
            ids = [collection.embedding_model_id]
            if collection.pending_embedding_model_id is not None:
                ids.append(collection.pending_embedding_model_id)
            found = [await session.get(EmbeddingModel, id) for id in ids]
        models = [m for m in found if m is not None and m.deleted_at is None]
        if not models:
            raise _Failed("EMBEDDING_MODEL_MISSING", "The collection's embedding model was deleted")
        return models

    async def _embed(
        self,
        model: EmbeddingModel,
        texts: Sequence[str],
        on_batch: Callable[[int], Any] | None = None,
    ) -> Vectors:
        spec = embedding_spec(model, self.secret)
        try:
            embedder = await asyncio.to_thread(self.models.embedder, spec)
            parts: list[Vectors] = []
            size = self.settings.embed_batch_size
            for start in range(0, len(texts), size):
                batch = list(texts[start : start + size])
                parts.append(await asyncio.to_thread(embedder.embed_documents, batch))
                if on_batch is not None:
                    await on_batch(start + len(batch))
        except LLMError as exc:
            raise _Failed(exc.code, exc.message) from exc
        if not parts:
            return np.zeros((0, model.dimensions), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    # --- documents ----------------------------------------------------------

    async def ingest_document(self, document_id: uuid.UUID, revision: int) -> None:
        async with self.db.read() as session:
            documents = DocumentRepository.from_session(session)
            doc = await documents.get(document_id)
            if doc is None or doc.revision != revision or doc.status is DocumentStatus.READY:
                return  # deleted, superseded by a newer request, or done already
            data = await documents.content(document_id)
            collection = await CollectionRepository.from_session(session).get(doc.collection_id)
            filename = doc.filename
        new_ids: list[uuid.UUID] = []
        models: list[EmbeddingModel] = []
        try:
            if data is None or collection is None:
                raise _Failed("NOT_FOUND", "The document or its collection no longer exists")
            await self._progress(document_id, revision, DocumentStatus.PARSING, 0, 0)
            try:
                parsed, chunks = await asyncio.to_thread(
                    parse_and_chunk, data, filename, self.settings
                )
            except ParseError as exc:
                raise _Failed(exc.code, exc.reason) from exc
            if not chunks:
                raise _Failed("NO_TEXT", "The document contains no text to index")
            new_ids = [uuid.uuid4() for _ in chunks]
            title = doc.title or parsed.title or filename
            texts = [embedding_text(title, c.heading_path, c.text) for c in chunks]
            swapped: list[uuid.UUID] | None = None
            # The collection may change models while this runs: embed with what it
            # uses when the chunks are swapped in (checked under its lock), at most
            # a few rounds.
            for _ in range(3):
                wanted = await self._embedding_models(collection.id)
                missing = [m for m in wanted if m.id not in {e.id for e in models}]
                total = len(chunks) * len(missing)
                await self._progress(document_id, revision, DocumentStatus.EMBEDDING, 0, total)
                for index, model in enumerate(missing):
                    offset = index * len(chunks)

                    async def report(done: int, offset: int = offset, total: int = total) -> None:
                        await self._progress(
                            document_id, revision, DocumentStatus.EMBEDDING, offset + done, total
                        )

                    try:
                        vectors = await self._embed(model, texts, report)
                    except _Failed as failure:
                        if model.id == wanted[0].id:
                            raise
                        # The model being moved to fails: give up the move, not the
                        # document.
                        await self.abandon_move(collection.id, model.id, failure)
                        continue
                    await self.store.add(
                        model.id, VectorRows(document_id, collection.id, new_ids, vectors)
                    )
                    models.append(model)
                swapped = await self._swap(
                    document_id, revision, collection.id, parsed, chunks, new_ids, models
                )
                if swapped is not RETRY:
                    break
            else:
                raise _Failed("BUSY", "The collection kept changing models; try re-indexing")
            total = len(chunks)
            if swapped is None:  # superseded while embedding
                await self._forget(models, new_ids, collection.id)
                return
            # READY only once the replaced vectors are gone: then what a client sees
            # as indexed is exactly what is searched. New vectors for a model the
            # collection has left since go too.
            await self._forget(models, swapped, collection.id)
            current = {m.id for m in await self._embedding_models(collection.id)}
            await self._forget([m for m in models if m.id not in current], new_ids, collection.id)
            await self._progress(document_id, revision, DocumentStatus.READY, total, total)
        except _Failed as failure:
            await self._forget(models, new_ids, collection.id if collection else None)
            await self._progress(document_id, revision, DocumentStatus.FAILED, 0, 0, failure)
        except Exception:
            logger.exception("ingesting document %s failed", document_id)
            await self._forget(models, new_ids, collection.id if collection else None)
            await self._progress(
                document_id,
                revision,
                DocumentStatus.FAILED,
                0,
                0,
                _Failed("INTERNAL_ERROR", "Indexing failed unexpectedly; try re-indexing"),
            )

    async def _swap(
        self,
        document_id: uuid.UUID,
        revision: int,
        collection_id: uuid.UUID,
        parsed: Any,
        chunks: list[Chunk],
        new_ids: list[uuid.UUID],
        embedded: Sequence[EmbeddingModel],
    ) -> list[uuid.UUID] | None:
        """Replace the document's chunks in one transaction; the old chunk ids,
        ``None`` if the document changed or went away meanwhile, or ``RETRY`` if the
        collection now uses a model the new chunks have no vectors for."""
        async with self.db.transaction() as session:
            documents = DocumentRepository.from_session(session)
            chunk_rows = ChunkRepository.from_session(session)
            collection = await CollectionRepository.from_session(session).lock(collection_id)
            doc = await documents.get(document_id)
            if doc is None or collection is None or doc.revision != revision:
                return None
            have = {m.id for m in embedded}
            needed = {collection.embedding_model_id, collection.pending_embedding_model_id}
            if not (needed - {None}) <= have:
                return RETRY
            old_ids = await chunk_rows.ids_of_document(document_id)
            await chunk_rows.delete_of_document(document_id)
            await chunk_rows.insert_many(
                [
                    {
                        "id": chunk_id,
                        "document_id": document_id,
                        "ordinal": chunk.ordinal,
                        "text": chunk.text,
                        "heading_path": list(chunk.heading_path),
                        "page": chunk.page,
                    }
                    for chunk_id, chunk in zip(new_ids, chunks, strict=True)
                ]
            )
            total = len(chunks)
            doc.kind = parsed.kind.value
            doc.chunks_done = doc.chunks_total = total
            doc.indexed_at = utcnow()
            # What the admin gave wins over what the file says.
            if not doc.title:
                doc.title = (parsed.title or doc.filename)[:200]
            if doc.effective_date is None:
                doc.effective_date = parsed.effective_date
            if not doc.tags:
                doc.tags = list(parsed.tags)
            doc.properties = dict(parsed.metadata)
            await CollectionRepository.from_session(session).bump(collection_id)
        return old_ids

    async def _forget(
        self,
        models: Sequence[EmbeddingModel],
        chunk_ids: Sequence[uuid.UUID],
        collection_id: uuid.UUID | None,
    ) -> None:
        """Remove vectors no chunk uses any more, then let every process reload."""
        if not chunk_ids:
            return
        try:
            for model in models:
                await self.store.delete_chunks(model.id, chunk_ids)
            if collection_id is not None:
                async with self.db.transaction() as session:
                    await CollectionRepository.from_session(session).bump(collection_id)
        except Exception:  # orphan vectors are skipped at search time
            logger.warning("could not remove replaced vectors", exc_info=True)

    # --- collections ----------------------------------------------------------

    async def reembed_collection(self, collection_id: uuid.UUID, model_id: uuid.UUID) -> None:
        """Embed every chunk of the collection with ``model_id``, then swap models."""
        async with self.db.read() as session:
            collection = await CollectionRepository.from_session(session).get(collection_id)
            model = await session.get(EmbeddingModel, model_id)
            if (
                collection is None
                or collection.pending_embedding_model_id != model_id
                or model is None
            ):
                return
            documents = await DocumentRepository.from_session(session).in_collection(collection_id)
        await self.store.delete_collection(model_id, collection_id)  # any earlier attempt
        for doc in documents:
            async with self.db.read() as session:
                chunks = await ChunkRepository.from_session(session).of_document(doc.id)
            if not chunks:
                continue
            texts = [embedding_text(doc.title, c.heading_path, c.text) for c in chunks]
            try:
                vectors = await self._embed(model, texts)
            except _Failed as failure:
                await self.abandon_move(collection_id, model_id, failure)
                return  # the old model keeps serving; the change can be asked again
            await self.store.add(
                model_id, VectorRows(doc.id, collection_id, [c.id for c in chunks], vectors)
            )
        async with self.db.transaction() as session:
            collections = CollectionRepository.from_session(session)
            current = await collections.lock(collection_id)
            if current is None or current.pending_embedding_model_id != model_id:
                return
            old_model = current.embedding_model_id
            current.embedding_model_id = model_id
            current.pending_embedding_model_id = None
            current.index_version += 1
        if old_model != model_id:
            await self.store.delete_collection(old_model, collection_id)

    async def recover(self, queue: IngestionQueue) -> int:
        """Queue again what a stopped process left unfinished."""
        async with self.db.read() as session:
            unfinished = await DocumentRepository.from_session(session).unfinished()
            pending = await CollectionRepository.from_session(session).all_reembedding()
        for doc in unfinished:
            await queue.submit(IngestJob.document(doc))
        for collection in pending:
            assert collection.pending_embedding_model_id is not None
            await queue.submit(
                IngestJob.reembed(collection.id, collection.pending_embedding_model_id)
            )
        return len(unfinished) + len(pending)


class LocalIngestionQueue:
    """The embedded default: one background task in this process works through jobs
    in order; parsing and embedding run in threads, so requests are never stalled."""

    def __init__(self, ingestion: Ingestion) -> None:
        self.ingestion = ingestion
        self._queue: asyncio.Queue[IngestJob] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[str] = set()

    async def submit(self, job: IngestJob) -> None:
        if job.key in self._pending:
            return
        self._pending.add(job.key)
        self._queue.put_nowait(job)
        INGESTION_QUEUE_DEPTH.set(self._queue.qsize())

    async def depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._work(), name="ingestion")
        try:
            await self.ingestion.recover(self)
        except Exception:
            logger.warning("could not recover unfinished ingestion", exc_info=True)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._pending.discard(job.key)
            INGESTION_QUEUE_DEPTH.set(self._queue.qsize())
            try:
                await self.ingestion.run(job)
            except Exception:
                logger.exception("ingestion job %s failed", job.kind)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
