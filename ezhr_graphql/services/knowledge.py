"""Collections and documents (administrators manage them; members read the documents
they may), their audiences, and which collections an agent answers from.

Work for the ingestion queue, and removing the vectors of a deleted document, is
registered on the transaction and done once it commits (``after_commit``), so that a
job never runs against rows another connection cannot see yet, and nothing is
queued or removed for a change that rolled back.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import after_commit
from ezhr_graphql.errors import ConflictError, InvalidInputError, LimitExceededError, NotFoundError
from ezhr_graphql.models import (
    Agent,
    Collection,
    Document,
    DocumentContent,
    DocumentStatus,
)
from ezhr_graphql.rag.parsing import ParseError, detect_kind
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import EmbeddingModelRepository
from ezhr_graphql.repositories.audience import AudienceRepository, Reader
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.knowledge import (
    ChunkRepository,
    CollectionRepository,
    DocumentRepository,
)
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.attributes import reader_of
from ezhr_graphql.services.ingestion import Ingestion, IngestionQueue, IngestJob
from ezhr_graphql.services.knowledge_fields import (
    CollectionFields,
    DocumentFields,
    audience_rows,
    clean_filename,
)
from ezhr_graphql.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

MAX_COLLECTIONS_PER_AGENT = 20

__all__ = ["CollectionFields", "DocumentFields", "KnowledgeService", "Uploaded"]


@dataclass(frozen=True, slots=True)
class Uploaded:
    document: Document
    duplicate: bool


class KnowledgeService:
    def __init__(
        self,
        session: AsyncSession,
        settings: KnowledgeSettings,
        queue: IngestionQueue,
        ingestion: Ingestion,
    ) -> None:
        """``queue`` takes the indexing work a change implies, ``ingestion`` removes the
        vectors of deleted documents: both once the change has committed."""
        self.session = session
        self.settings = settings
        self.queue = queue
        self.ingestion = ingestion
        self.collections = CollectionRepository.from_session(session)
        self.documents = DocumentRepository.from_session(session)
        self.chunks = ChunkRepository.from_session(session)
        self.agents = AgentRepository.from_session(session)
        self.embedding_models = EmbeddingModelRepository.from_session(session)
        self.audiences = AudienceRepository.from_session(session)

    def _queue(self, job: IngestJob) -> None:
        """Queue ``job`` once the transaction commits."""

        async def submit() -> None:
            try:
                await self.queue.submit(job)
            except Exception:  # the row says QUEUED: recovery queues it again
                logger.warning("could not queue ingestion job %s", job.kind, exc_info=True)

        after_commit(self.session, submit)

    # --- collections ----------------------------------------------------------

    async def collection(self, actor: Actor, id: uuid.UUID) -> Collection:
        actor.require_admin()
        found = await self.collections.get(id)
        if found is None:
            raise NotFoundError("Collection", id)
        return found

    async def collection_page(
        self, actor: Actor, first: int, after: str | None
    ) -> Page[Collection]:
        actor.require_admin()
        return await self.collections.page(first, after)

    async def _unique_name(self, name: str, current: Collection | None = None) -> None:
        existing = await self.collections.get_by_name(name)
        if existing is not None and existing is not current:
            raise ConflictError(f"A collection named {name!r} exists", field="name")

    async def _embedding_model(self, id: uuid.UUID) -> None:
        if await self.embedding_models.get(id) is None:
            raise InvalidInputError(
                "embeddingModelId", "embeddingModelId does not name an embedding model"
            )

    async def create_collection(self, actor: Actor, fields: CollectionFields) -> Collection:
        actor.require_admin()
        values = fields.cleaned()
        audience = audience_rows(fields)
        for required in ("name", "embedding_model_id"):
            if required not in values:
                field = validation.camel(required)
                raise InvalidInputError(field, f"{field} is required")
        await self._embedding_model(values["embedding_model_id"])
        await self._unique_name(values["name"])
        collection = self.collections.add(Collection(**values))
        await self.collections.flush()
        if audience is not None:
            await self.audiences.set_collection(collection.id, audience)
        return collection

    async def update_collection(
        self, actor: Actor, id: uuid.UUID, fields: CollectionFields
    ) -> Collection:
        """Change a collection. A new embedding model re-embeds it in the background; a
        new audience applies from the next question on, and nothing is embedded again.

        Raises:
            NotFoundError, InvalidInputError, ConflictError.
        """
        collection = await self.collection(actor, id)
        values = fields.cleaned()
        audience = audience_rows(fields)
        if "name" in values:
            await self._unique_name(values["name"], collection)
        model_id = values.pop("embedding_model_id", None)
        for name, value in values.items():
            setattr(collection, name, value)
        if model_id is not None:
            await self._embedding_model(model_id)
            self._reembed(collection, model_id)
        if audience is not None:
            await self.audiences.set_collection(collection.id, audience)
        await self.collections.flush()
        return collection

    def _reembed(self, collection: Collection, model_id: uuid.UUID) -> None:
        """Re-embed in the background with ``model_id``; answers keep the current
        model until every document is done."""
        if model_id == collection.embedding_model_id:
            collection.pending_embedding_model_id = None  # a change taken back
            return
        # Asked again for the same model: queue it again (a duplicate of a job still
        # waiting is dropped by the queue).
        collection.pending_embedding_model_id = model_id
        self._queue(IngestJob.reembed(collection.id, model_id))

    async def delete_collection(self, actor: Actor, id: uuid.UUID) -> Collection:
        collection = await self.collection(actor, id)
        if (await self.documents.counts([id]))[id]:
            raise ConflictError("The collection still has documents; delete them first", field="id")
        await self.collections.detach_everywhere(id)
        collection.soft_delete()
        await self.collections.flush()
        return collection

    # --- agents ---------------------------------------------------------------

    async def set_agent_collections(
        self, actor: Actor, agent_id: uuid.UUID, collection_ids: list[uuid.UUID]
    ) -> Agent:
        actor.require_admin()
        agent = await self.agents.get(agent_id)
        if agent is None:
            raise NotFoundError("Agent", agent_id)
        if len(set(collection_ids)) > MAX_COLLECTIONS_PER_AGENT:
            raise InvalidInputError(
                "collectionIds", f"an agent uses at most {MAX_COLLECTIONS_PER_AGENT} collections"
            )
        found = await self.collections.get_many(collection_ids)
        missing = [c for c in collection_ids if c not in found]
        if missing:
            raise NotFoundError("Collection", missing[0])
        await self.collections.set_for_agent(agent_id, collection_ids)
        return agent

    async def follow_agent_model(self, agent: Agent) -> None:
        """Re-embed the agent's collections that are not on its embedding model."""
        for collection in await self.collections.of_agent(agent.id):
            self._reembed(collection, agent.embedding_model_id)
        await self.collections.flush()

    # --- documents --------------------------------------------------------------

    async def _reader(self, actor: Actor) -> Reader:
        """What the actor holds of each attribute audiences constrain, as stored now."""
        return await reader_of(self.session, actor.id)

    async def document(self, actor: Actor, id: uuid.UUID) -> Document:
        """Any document, for an administrator; for a member, one of a collection an
        agent they may use answers from, whose audiences admit them.

        Raises:
            NotFoundError: no such document, or not one the member may read.
        """
        if actor.is_admin:
            found = await self.documents.get(id)
        else:
            found = await self.documents.get_readable(id, actor.id, await self._reader(actor))
        if found is None:
            raise NotFoundError("Document", id)
        return found

    async def managed_document(self, actor: Actor, id: uuid.UUID) -> Document:
        """A document to change (administrators only).

        Raises:
            ForbiddenError: the actor is not an administrator.
            NotFoundError: no such document.
        """
        actor.require_admin()
        return await self.document(actor, id)

    async def document_page(
        self,
        actor: Actor,
        collection_id: uuid.UUID,
        first: int,
        after: str | None,
        status: DocumentStatus | None = None,
    ) -> Page[Document]:
        """A page of a collection's documents: every one, for an administrator; for a
        member, those :meth:`document` would show them.

        Raises:
            NotFoundError: no such collection, or none the member may read from.
        """
        if actor.is_admin:
            await self.collection(actor, collection_id)
            return await self.documents.page_in(collection_id, first, after, status)
        reader = await self._reader(actor)
        if not await self.collections.readable(collection_id, actor.id, reader):
            raise NotFoundError("Collection", collection_id)
        return await self.documents.page_in(
            collection_id, first, after, status, readable_by=(actor.id, reader)
        )

    async def upload(
        self,
        actor: Actor,
        collection_id: uuid.UUID,
        filename: str,
        data: bytes,
        fields: DocumentFields,
    ) -> Uploaded:
        """Store the file and queue it for indexing; a file already in the collection
        (same bytes) is reported, not stored again.

        Raises:
            NotFoundError: no such collection.
            LimitExceededError: the file is over the configured size.
            InvalidInputError: empty file, or not a type we can read (by its content).
        """
        await self.collection(actor, collection_id)
        values = fields.cleaned()
        audience = audience_rows(fields)
        if len(data) > self.settings.max_upload_bytes:
            raise LimitExceededError(
                "uploadSize",
                f"The file is larger than {self.settings.max_upload_bytes} bytes",
            )
        name = clean_filename(filename)
        try:
            kind = detect_kind(data, name)
        except ParseError as exc:
            raise InvalidInputError("file", exc.reason) from exc
        digest = hashlib.sha256(data).hexdigest()
        existing = await self.documents.by_hash(collection_id, digest)
        if existing is not None:
            return Uploaded(existing, duplicate=True)
        document = self.documents.add(
            Document(
                collection_id=collection_id,
                uploaded_by_id=actor.id,
                filename=name,
                kind=kind.value,
                size_bytes=len(data),
                content_hash=digest,
                title=values.get("title", ""),
                effective_date=values.get("effective_date"),
                outdated=values.get("outdated", False),
                tags=values.get("tags", []),
                properties={},
                status=DocumentStatus.QUEUED,
                revision=1,
            )
        )
        await self.documents.flush()
        self.session.add(DocumentContent(document_id=document.id, data=data))
        await self.documents.flush()
        if audience is not None:
            await self.audiences.set_document(document.id, audience)
        self._queue(IngestJob.document(document))
        return Uploaded(document, duplicate=False)

    async def update_document(
        self, actor: Actor, id: uuid.UUID, fields: DocumentFields
    ) -> Document:
        """Change a document's metadata and audience; nothing is indexed again (a new
        audience applies from the next question on).

        Raises:
            NotFoundError, InvalidInputError.
        """
        document = await self.managed_document(actor, id)
        audience = audience_rows(fields)
        for name, value in fields.cleaned().items():
            setattr(document, name, value)
        if audience is not None:
            await self.audiences.set_document(document.id, audience)
        await self.documents.flush()
        return document

    def _requeue(self, document: Document) -> None:
        document.revision += 1
        document.status = DocumentStatus.QUEUED
        document.error_code = document.error_reason = None
        document.chunks_done = 0
        self._queue(IngestJob.document(document))

    async def reindex_document(self, actor: Actor, id: uuid.UUID) -> Document:
        document = await self.managed_document(actor, id)
        self._requeue(document)
        await self.documents.flush()
        return document

    async def reindex_collection(self, actor: Actor, id: uuid.UUID) -> Collection:
        collection = await self.collection(actor, id)
        for document in await self.documents.in_collection(id):
            self._requeue(document)
        await self.documents.flush()
        return collection

    async def delete_document(self, actor: Actor, id: uuid.UUID) -> Document:
        document = await self.managed_document(actor, id)
        await self.chunks.delete_of_document(id)
        await self.documents.delete_with_content(id)
        collection_id = document.collection_id
        after_commit(self.session, lambda: self.ingestion.forget_document(id, collection_id))
        return document
