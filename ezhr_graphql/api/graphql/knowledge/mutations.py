"""Managing collections and documents (admins only). Indexing work is queued, and
the vectors of deleted documents removed, once the change commits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.file_uploads import Upload

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.agents.types import Agent, AgentResult
from ezhr_graphql.api.graphql.context import Context, Info
from ezhr_graphql.api.graphql.errors import ErrorCode, InvalidInput, UserErrorType
from ezhr_graphql.api.graphql.knowledge.types import (
    Collection,
    CollectionResult,
    CreateCollectionInput,
    Document,
    DocumentMetadataInput,
    DocumentResult,
    UpdateCollectionInput,
    UploadDocumentResult,
    UploadedDocument,
)
from ezhr_graphql.api.graphql.results import DeleteResult, deleted
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.knowledge import DocumentFields, KnowledgeService

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)


def knowledge_change(
    ctx: Context,
    act: Callable[[KnowledgeService, Actor], Awaitable[R]],
    convert: Callable[[R], T],
    audit: AuditAction,
) -> Awaitable[T | UserErrorType]:
    """An administrator's change to the knowledge, recorded in the audit log; the
    indexing it implies is queued, and the vectors of deleted documents removed, once
    it commits."""
    return resolve.change(ctx, lambda s, a: act(s.knowledge, a), convert, admin=True, audit=audit)


async def _read_upload(file: Any, limit: int) -> bytes | None:
    """The uploaded bytes, or ``None`` if over ``limit`` (read no further than that)."""
    read = getattr(file, "read", None)
    if read is None:
        raise TypeError("not an upload")
    data: bytes = await read(limit + 1)
    return None if len(data) > limit else data


@strawberry.type
class KnowledgeMutations:
    @strawberry.mutation(description="Create a collection of documents (admins only).")
    async def create_collection(self, info: Info, input: CreateCollectionInput) -> CollectionResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.create_collection(a, input.to_fields()),
            Collection.from_model,
            AuditAction.COLLECTION_CREATED,
        )

    @strawberry.mutation(
        description="Change a collection. A new embedding model re-embeds it in the "
        "background; answers keep using the current index until that finishes."
    )
    async def update_collection(
        self, info: Info, id: strawberry.ID, input: UpdateCollectionInput
    ) -> CollectionResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.update_collection(a, parse_id(id), input.to_fields()),
            Collection.from_model,
            AuditAction.COLLECTION_CHANGED,
        )

    @strawberry.mutation(description="Delete an empty collection (admins only).")
    async def delete_collection(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.delete_collection(a, parse_id(id)),
            deleted,
            AuditAction.COLLECTION_DELETED,
        )

    @strawberry.mutation(
        description="Upload a document (multipart request) into a collection and queue it "
        "for indexing: PDF, DOCX, Markdown, HTML or plain text, recognised by content. "
        "The same file uploaded again is reported as a duplicate, not indexed twice."
    )
    async def upload_document(
        self,
        info: Info,
        collection_id: strawberry.ID,
        file: Upload,
        metadata: DocumentMetadataInput | None = None,
    ) -> UploadDocumentResult:
        ctx = info.context
        ctx.require_admin()
        limit = ctx.container.settings.knowledge.max_upload_bytes
        try:
            data = await _read_upload(file, limit)
        except Exception:
            return InvalidInput(
                message="file must be an uploaded file (GraphQL multipart request)",
                code=ErrorCode.INVALID_INPUT,
                field="file",
            )
        if data is None:
            data = b"\0" * (limit + 1)  # the service reports the limit
        filename = str(getattr(file, "filename", "") or "")
        fields = metadata.to_fields() if metadata is not None else DocumentFields()
        return await knowledge_change(
            ctx,
            lambda s, a: s.upload(
                a, parse_id(collection_id, "collectionId"), filename, data, fields
            ),
            lambda up: UploadedDocument(
                document=Document.from_model(up.document), duplicate=up.duplicate
            ),
            AuditAction.DOCUMENT_UPLOADED,
        )

    @strawberry.mutation(description="Change a document's metadata (admins only).")
    async def update_document(
        self, info: Info, id: strawberry.ID, input: DocumentMetadataInput
    ) -> DocumentResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.update_document(a, parse_id(id), input.to_fields()),
            Document.from_model,
            AuditAction.DOCUMENT_CHANGED,
        )

    @strawberry.mutation(
        description="Index a document again from its stored file; the current index keeps "
        "serving until the new one is complete."
    )
    async def reindex_document(self, info: Info, id: strawberry.ID) -> DocumentResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.reindex_document(a, parse_id(id)),
            Document.from_model,
            AuditAction.DOCUMENT_CHANGED,
        )

    @strawberry.mutation(description="Index every document of a collection again.")
    async def reindex_collection(self, info: Info, id: strawberry.ID) -> CollectionResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.reindex_collection(a, parse_id(id)),
            Collection.from_model,
            AuditAction.COLLECTION_CHANGED,
        )

    @strawberry.mutation(description="Delete a document, its file, chunks and vectors.")
    async def delete_document(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.delete_document(a, parse_id(id)),
            deleted,
            AuditAction.DOCUMENT_DELETED,
        )

    @strawberry.mutation(
        description="Choose the collections an agent answers from (replaces the list). Each "
        "is searched with the embedding model it is indexed with."
    )
    async def set_agent_collections(
        self, info: Info, agent_id: strawberry.ID, collection_ids: list[strawberry.ID]
    ) -> AgentResult:
        return await knowledge_change(
            info.context,
            lambda s, a: s.set_agent_collections(
                a,
                parse_id(agent_id, "agentId"),
                [parse_id(c, "collectionIds") for c in collection_ids],
            ),
            Agent.from_model,
            AuditAction.AGENT_CHANGED,
        )
