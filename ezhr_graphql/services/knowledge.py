"""Collections and documents (administrators only), and which collections an agent
answers from.

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
from datetime import date
from typing import Any

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
from ezhr_graphql.models.types import NAME_LENGTH
from ezhr_graphql.rag.parsing import ParseError, detect_kind
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import EmbeddingModelRepository
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.knowledge import (
    ChunkRepository,
    CollectionRepository,
    DocumentRepository,
)
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.ingestion import Ingestion, IngestionQueue, IngestJob
from ezhr_graphql.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

MAX_TAGS = 20
TAG_LENGTH = 50
MAX_COLLECTIONS_PER_AGENT = 20


@dataclass(frozen=True, slots=True)
class CollectionFields:
    name: str | None = None
    description: str | None = None
    embedding_model_id: uuid.UUID | None = None

    def cleaned(self) -> dict[str, Any]:
        return validation.clean(
            self,
            {
                "name": validation.NAME,
                "description": validation.DESCRIPTION,
                "embedding_model_id": validation.unchanged,
            },
        )


def _tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInputError("tags", f"a document has at most {MAX_TAGS} tags")
    cleaned = [validation.text("tags", t, TAG_LENGTH) for t in tags]
    return list(dict.fromkeys(cleaned))


@dataclass(frozen=True, slots=True)
class DocumentFields:
    """Metadata an administrator may give a document; ``None`` leaves it as it is
    (on upload: as the file says)."""

    title: str | None = None
    effective_date: date | None = None
    outdated: bool | None = None
    tags: list[str] | None = None

    def cleaned(self) -> dict[str, Any]:
        return validation.clean(
            self,
            {
                "title": validation.texts("title", NAME_LENGTH, required=False),
                "effective_date": validation.unchanged,
                "outdated": validation.unchanged,
                "tags": _tags,
            },
        )


def clean_filename(filename: str | None) -> str:
    """The file's base name without control characters, bounded; never empty."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(c for c in base if c.isprintable()).strip()
    return printable[:NAME_LENGTH] or "document"


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
        for required in ("name", "embedding_model_id"):
            if required not in values:
                field = validation.camel(required)
                raise InvalidInputError(field, f"{field} is required")
        await self._embedding_model(values["embedding_model_id"])
        await self._unique_name(values["name"])
        collection = self.collections.add(Collection(**values))
        await self.collections.flush()
        return collection

    async def update_collection(
        self, actor: Actor, id: uuid.UUID, fields: CollectionFields
    ) -> Collection:
        collection = await self.collection(actor, id)
        values = fields.cleaned()
        if "name" in values:
            await self._unique_name(values["name"], collection)
        model_id = values.pop("embedding_model_id", None)
        for name, value in values.items():
            setattr(collection, name, value)
        if model_id is not None:
            await self._embedding_model(model_id)
            self._reembed(collection, model_id)
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

    async def document(self, actor: Actor, id: uuid.UUID) -> Document:
        actor.require_admin()
        found = await self.documents.get(id)
        if found is None:
            raise NotFoundError("Document", id)
        return found

    async def document_page(
        self,
        actor: Actor,
        collection_id: uuid.UUID,
        first: int,
        after: str | None,
        status: DocumentStatus | None = None,
    ) -> Page[Document]:
        await self.collection(actor, collection_id)
        return await self.documents.page_in(collection_id, first, after, status)

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
        self._queue(IngestJob.document(document))
        return Uploaded(document, duplicate=False)

    async def update_document(
        self, actor: Actor, id: uuid.UUID, fields: DocumentFields
    ) -> Document:
        document = await self.document(actor, id)
        for name, value in fields.cleaned().items():
            setattr(document, name, value)
        await self.documents.flush()
        return document

    def _requeue(self, document: Document) -> None:
        document.revision += 1
        document.status = DocumentStatus.QUEUED
        document.error_code = document.error_reason = None
        document.chunks_done = 0
        self._queue(IngestJob.document(document))

    async def reindex_document(self, actor: Actor, id: uuid.UUID) -> Document:
        document = await self.document(actor, id)
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
        document = await self.document(actor, id)
        await self.chunks.delete_of_document(id)
        await self.documents.delete_with_content(id)
        collection_id = document.collection_id
        after_commit(self.session, lambda: self.ingestion.forget_document(id, collection_id))
        return document
