"""Running ingestion jobs: a stored document becomes chunks and vectors, off the
request path.

Parsing and embedding run on background threads, below the event loop in CPU priority
(:mod:`ezhr_graphql.rag.threads`); the event loop only moves rows. A document's new
chunks and vectors are written beside the old ones and swapped in by one short
transaction, so a failed or superseded run leaves what was indexed intact.
Progress goes to the document's row and to its broker channel (see
:mod:`~ezhr_graphql.services.ingestion.progress`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ezhr_graphql.db import Database
from ezhr_graphql.models import DocumentStatus, EmbeddingModel
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.repositories.knowledge import CollectionRepository, DocumentRepository
from ezhr_graphql.services.ingestion.chunks import (
    RETRY,
    NewChunks,
    Source,
    Target,
    cut,
    read_source,
    swap_chunks,
)
from ezhr_graphql.services.ingestion.embedding import Embedding, collection_models
from ezhr_graphql.services.ingestion.jobs import IngestJob, run_logged
from ezhr_graphql.services.ingestion.progress import Failed, Progress, ProgressReporter
from ezhr_graphql.services.ingestion.reembed import Reembedding
from ezhr_graphql.settings import KnowledgeSettings
from ezhr_graphql.vectors import VectorRows, Vectors, VectorStore

if TYPE_CHECKING:
    from ezhr_graphql.services.ingestion.queue import IngestionQueue

logger = logging.getLogger(__name__)

# At most this many rounds of embedding and swapping while the collection changes models.
SWAP_ROUNDS = 3
# Recording READY after a swap is tried this many times, the n-th retry after n times
# this many seconds.
READY_ATTEMPTS = 3
READY_RETRY_SECONDS = 0.5


@dataclass(slots=True)
class _Written:
    """What a run has stored so far, and must remove if it fails before its chunks
    are swapped in: vectors of ``chunk_ids`` under each of ``models``."""

    chunk_ids: list[uuid.UUID] = field(default_factory=list)
    models: list[EmbeddingModel] = field(default_factory=list)


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
        self.reporter = ProgressReporter(db, broker)
        self.embedding = Embedding(models, secret, settings)

    async def run_all(
        self, jobs: Sequence[IngestJob], on_done: Callable[[int], None] | None = None
    ) -> None:
        """Run ``jobs``, ``settings.ingest_concurrency`` at a time, started in order;
        ``on_done`` hears how many have finished after each. A job that fails is
        logged and the others go on, as in a queue."""
        pending = iter(jobs)
        done = 0

        async def worker() -> None:
            nonlocal done
            for job in pending:  # shared: each job is taken once
                await run_logged(self.run, job)
                done += 1
                if on_done is not None:
                    on_done(done)

        workers = min(self.settings.ingest_concurrency, len(jobs))
        await asyncio.gather(*(worker() for _ in range(workers)))

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

    async def forget_document(self, document_id: uuid.UUID, collection_id: uuid.UUID) -> None:
        """After a document's rows are deleted: its vectors go, every process reloads,
        and anyone following its ingestion hears the end."""
        try:
            await self.store.delete_document(document_id)
            async with self.db.transaction() as session:
                await CollectionRepository.from_session(session).bump(collection_id)
        except Exception:  # orphan vectors are skipped by searches
            logger.warning("could not remove a deleted document's vectors", exc_info=True)
        deleted = Failed("DELETED", "The document was deleted")
        await self.reporter.publish(document_id, Progress(DocumentStatus.FAILED, error=deleted))

    async def abandon_move(
        self, collection_id: uuid.UUID, model_id: uuid.UUID, failure: Failed
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

    async def _embed(
        self,
        model: EmbeddingModel,
        texts: Sequence[str],
        on_batch: Callable[[int], Awaitable[None]] | None = None,
    ) -> Vectors:
        """Every embedding of a run goes through here (see :meth:`Embedding.embed`).

        Raises:
            Failed: the model could not be loaded or could not embed (its error code).
        """
        return await self.embedding.embed(model, texts, on_batch)

    # --- documents ----------------------------------------------------------

    async def ingest_document(self, document_id: uuid.UUID, revision: int) -> None:
        """Index ``revision`` of the document, unless it is gone, superseded or done.
        A failure is recorded on the document, and what it wrote is removed."""
        source = await read_source(self.db, document_id, revision)
        if source is None:
            return  # deleted, superseded by a newer request, or done already
        written = _Written()
        try:
            await self._index(source, written)
        except Failed as failure:
            await self._fail(source, written, failure)
        except Exception:
            logger.exception("ingesting document %s failed", document_id)
            await self._fail(
                source,
                written,
                Failed("INTERNAL_ERROR", "Indexing failed unexpectedly; try re-indexing"),
            )

    async def _index(self, source: Source, written: _Written) -> None:
        """Parse the document, embed and swap in its chunks, then mark it ready.

        Raises:
            Failed: why the document cannot be indexed.
        """
        data, collection_id = source.data, source.collection_id
        if data is None or collection_id is None:
            raise Failed("NOT_FOUND", "The document or its collection no longer exists")
        target = Target(source.document_id, source.revision, collection_id)
        await self._report(target, Progress(DocumentStatus.PARSING))
        new = await cut(data, source, self.settings)
        written.chunk_ids = new.ids
        replaced = await self._embed_and_swap(target, new, written)
        if replaced is None:  # superseded while embedding
            await self._forget(written.models, new.ids, collection_id)
            return
        # Swapped in: the new chunks and vectors are the index now, so nothing after
        # this may fail into _fail, which would delete them (_settle raises nothing).
        await self._settle(target, new, written.models, replaced)

    async def _settle(
        self,
        target: Target,
        new: NewChunks,
        models: Sequence[EmbeddingModel],
        replaced: list[uuid.UUID],
    ) -> None:
        """After the swap: remove what no chunk uses any more, then mark the document
        READY. Raises nothing: the swapped-in chunks and their vectors are what is
        indexed now, and a failure reaching :meth:`_fail` would delete them."""
        collection_id = target.collection_id
        # READY only once the replaced vectors are gone: then what a client sees
        # as indexed is exactly what is searched. New vectors for a model the
        # collection has left since go too.
        await self._forget(models, replaced, collection_id)
        try:
            current = {m.id for m in await collection_models(self.db, collection_id)}
        except Exception:  # Failed too; at worst vectors of a model no search uses stay
            logger.warning("could not check the collection's models", exc_info=True)
        else:
            await self._forget([m for m in models if m.id not in current], new.ids, collection_id)
        await self._mark_ready(target, len(new.chunks))

    async def _mark_ready(self, target: Target, total: int) -> None:
        """Record READY, trying again through a brief database failure. A document
        left unmarked stays unfinished, and recovery indexes it again."""
        for attempt in range(1, READY_ATTEMPTS + 1):
            try:
                await self._report(target, Progress(DocumentStatus.READY, total, total))
                return
            except Exception:
                if attempt == READY_ATTEMPTS:
                    logger.warning(
                        "could not mark document %s ready", target.document_id, exc_info=True
                    )
                    return
                await asyncio.sleep(READY_RETRY_SECONDS * attempt)

    async def _embed_and_swap(
        self, target: Target, new: NewChunks, written: _Written
    ) -> list[uuid.UUID] | None:
        """Embed the new chunks with the collection's models and swap them in; the
        replaced chunk ids, or ``None`` if the document changed meanwhile.

        Raises:
            Failed: ``BUSY`` if the collection kept changing models, or why the
                collection's model could not embed.
        """
        # The collection may change models while this runs: embed with what it
        # uses when the chunks are swapped in (checked under its lock), at most
        # a few rounds.
        for _ in range(SWAP_ROUNDS):
            await self._embed_missing(target, new, written)
            swapped = await swap_chunks(self.db, target, new, written.models)
            if swapped is not RETRY:
                return swapped
        raise Failed("BUSY", "The collection kept changing models; try re-indexing")

    async def _embed_missing(self, target: Target, new: NewChunks, written: _Written) -> None:
        """Store vectors of the new chunks for each model the collection uses that
        ``written`` lacks. A model being moved to that fails is given up.

        Raises:
            Failed: the collection's own model could not embed.
        """
        wanted = await collection_models(self.db, target.collection_id)
        missing = [m for m in wanted if m.id not in {e.id for e in written.models}]
        total = len(new.chunks) * len(missing)
        await self._report(target, Progress(DocumentStatus.EMBEDDING, 0, total))
        for index, model in enumerate(missing):
            report = self._batch_reporter(target, index * len(new.chunks), total)
            try:
                vectors = await self._embed(model, new.texts, report)
            except Failed as failure:
                if model.id == wanted[0].id:
                    raise
                # The model being moved to fails: give up the move, not the
                # document.
                await self.abandon_move(target.collection_id, model.id, failure)
                continue
            await self.store.add(
                model.id, VectorRows(target.document_id, target.collection_id, new.ids, vectors)
            )
            written.models.append(model)

    def _batch_reporter(
        self, target: Target, offset: int, total: int
    ) -> Callable[[int], Awaitable[None]]:
        async def report(done: int) -> None:
            await self._report(target, Progress(DocumentStatus.EMBEDDING, offset + done, total))

        return report

    async def _report(self, target: Target, progress: Progress) -> None:
        await self.reporter.record(target.document_id, target.revision, progress)

    async def _fail(self, source: Source, written: _Written, failure: Failed) -> None:
        await self._forget(written.models, written.chunk_ids, source.collection_id)
        failed = Progress(DocumentStatus.FAILED, error=failure)
        await self.reporter.record(source.document_id, source.revision, failed)

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
        reembedding = Reembedding(self.db, self.store, self._embed, self.abandon_move)
        await reembedding.run(collection_id, model_id)

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
