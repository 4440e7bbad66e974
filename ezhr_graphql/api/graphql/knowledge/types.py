"""Collections, documents and ingestion progress as the API shows them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.catalog.types import EmbeddingModel
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.loaders import resolved_or_awaitable
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import gid, input_fields, parse_optional_id
from ezhr_graphql.api.graphql.users.types import EmploymentType
from ezhr_graphql.models import AudienceAttribute
from ezhr_graphql.models import Collection as CollectionRow
from ezhr_graphql.models import Document as DocumentRow
from ezhr_graphql.services.attributes import Audience as AudienceValue
from ezhr_graphql.services.ingestion import Progress
from ezhr_graphql.services.knowledge import CollectionFields, DocumentFields


@strawberry.enum(description="Where a document is in its ingestion.")
class DocumentStatus(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for a worker.")
    PARSING = strawberry.enum_value("PARSING", description="Being read and cut into chunks.")
    EMBEDDING = strawberry.enum_value("EMBEDDING", description="Its chunks are being embedded.")
    READY = strawberry.enum_value("READY", description="Indexed; agents answer from it.")
    FAILED = strawberry.enum_value(
        "FAILED", description="The last indexing failed (see errorCode and errorReason)."
    )


@strawberry.type(
    description="Who a collection or document is for: per attribute of a user, the values "
    "it applies to. An empty list does not constrain its attribute; with every list "
    "empty it is for everyone. A user is admitted when, for every list that is not "
    "empty, their value is in it (groups: they are in one of them); a user with no "
    "value for such an attribute is not. A document is read by the users both its own "
    "and its collection's audiences admit."
)
class Audience:
    countries: list[str] = strawberry.field(description="ISO 3166-1 alpha-2 country codes.")
    offices: list[str] = strawberry.field(description="Offices or locations.")
    departments: list[str] = strawberry.field(description="Departments.")
    employment_types: list[EmploymentType] = strawberry.field(description="Employment types.")
    groups: list[str] = strawberry.field(description="Groups: a user in any of them.")
    everyone: bool = strawberry.field(description="True when no list constrains anything.")

    @classmethod
    def of(cls, rows: dict[AudienceAttribute, list[str]]) -> Self:
        value = AudienceValue.of(rows)
        return cls(
            countries=list(value.countries),
            offices=list(value.offices),
            departments=list(value.departments),
            employment_types=[EmploymentType[t.name] for t in value.employment_types],
            groups=list(value.groups),
            everyone=value.everyone,
        )


@strawberry.input(
    description="Who a collection or document is for (replaces its audience); an empty "
    "or omitted list does not constrain its attribute, so `{}` is everyone. At most 100 "
    "values per list; offices, departments and groups up to 100 characters each, "
    "compared as written."
)
class AudienceInput:
    countries: list[str] = strawberry.field(
        default_factory=list, description="ISO 3166-1 alpha-2 country codes (VN, US...)."
    )
    offices: list[str] = strawberry.field(default_factory=list, description="Offices.")
    departments: list[str] = strawberry.field(default_factory=list, description="Departments.")
    employment_types: list[EmploymentType] = strawberry.field(
        default_factory=list, description="Employment types."
    )
    groups: list[str] = strawberry.field(default_factory=list, description="Groups.")

    def to_audience(self) -> AudienceValue:
        return AudienceValue(
            countries=tuple(self.countries),
            offices=tuple(self.offices),
            departments=tuple(self.departments),
            employment_types=tuple(t.to_model() for t in self.employment_types),
            groups=tuple(self.groups),
        )


def _audience(value: AudienceInput | None) -> AudienceValue | None:
    return None if value is None else value.to_audience()


@strawberry.type(description="A set of documents agents can answer from.")
class Collection:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    name: str = strawberry.field(description="Unique display name.")
    description: str = strawberry.field(description="What it holds.")
    reindexing: bool = strawberry.field(
        description="True while it is re-embedded with a new model; answers use the old "
        "index until that finishes."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    embedding_model_id: strawberry.Private[uuid.UUID]
    pending_embedding_model_id: strawberry.Private[uuid.UUID | None]
    row_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The embedding model its index is built with.")
    def embedding_model(self, info: Info) -> EmbeddingModel | None:
        loader = info.context.loaders.embedding_model_by_id
        return resolved_or_awaitable(loader, self.embedding_model_id, EmbeddingModel.from_model)  # type: ignore[return-value]

    @strawberry.field(description="Who its documents are for (with their own audiences).")
    async def audience(self, info: Info) -> Audience:
        rows = await info.context.loaders.audience_by_collection_id.load(self.row_id)
        return Audience.of(rows)

    @strawberry.field(description="The model it is being re-embedded with, if any.")
    def pending_embedding_model(self, info: Info) -> EmbeddingModel | None:
        if self.pending_embedding_model_id is None:
            return None
        loader = info.context.loaders.embedding_model_by_id
        return resolved_or_awaitable(  # type: ignore[return-value]
            loader, self.pending_embedding_model_id, EmbeddingModel.from_model
        )

    @classmethod
    def from_model(cls, row: CollectionRow) -> Self:
        return cls(
            id=gid(row.id),
            name=row.name,
            description=row.description,
            reindexing=row.pending_embedding_model_id is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            embedding_model_id=row.embedding_model_id,
            pending_embedding_model_id=row.pending_embedding_model_id,
            row_id=row.id,
        )


@strawberry.type(description="An uploaded HR document.")
class Document:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    collection_id: strawberry.ID = strawberry.field(description="The collection it is in.")
    filename: str = strawberry.field(description="The name it was uploaded with.")
    kind: str = strawberry.field(
        description="Its type, read from its content: pdf, docx, markdown, html or text."
    )
    size_bytes: int = strawberry.field(description="Size of the original file.")
    content_hash: str = strawberry.field(description="SHA-256 of the original bytes.")
    title: str = strawberry.field(description="Title (given, or read from the file).")
    effective_date: date | None = strawberry.field(description="When the policy takes effect.")
    outdated: bool = strawberry.field(description="Outdated documents are not used in answers.")
    tags: list[str] = strawberry.field(description="Free-form labels.")
    status: DocumentStatus = strawberry.field(description="Ingestion status.")
    error_code: str | None = strawberry.field(
        description="Why the last indexing failed: EMPTY_FILE, UNSUPPORTED_TYPE, CORRUPT_FILE, "
        "NO_TEXT_LAYER, NO_TEXT, an LLM_* code for the embedding provider, or INTERNAL_ERROR."
    )
    error_reason: str | None = strawberry.field(description="The failure, in words.")
    chunks_done: int = strawberry.field(description="Chunks embedded so far.")
    chunks_total: int = strawberry.field(description="Chunks to embed.")
    indexed_at: datetime | None = strawberry.field(description="When it was last indexed.")
    created_at: datetime = strawberry.field(description="When it was uploaded.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="Who it is for, besides its collection's audience (null unless the "
        "viewer is an administrator)."
    )
    async def audience(self, info: Info) -> Audience | None:
        actor = info.context.actor
        if actor is None or not actor.is_admin:
            return None
        return Audience.of(await info.context.loaders.audience_by_document_id.load(self.row_id))

    @classmethod
    def from_model(cls, row: DocumentRow) -> Self:
        return cls(
            id=gid(row.id),
            collection_id=gid(row.collection_id),
            filename=row.filename,
            kind=row.kind,
            size_bytes=row.size_bytes,
            content_hash=row.content_hash,
            title=row.title,
            effective_date=row.effective_date,
            outdated=row.outdated,
            tags=list(row.tags or []),
            status=DocumentStatus[row.status.name],
            error_code=row.error_code,
            error_reason=row.error_reason,
            chunks_done=row.chunks_done,
            chunks_total=row.chunks_total,
            indexed_at=row.indexed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row_id=row.id,
        )


@strawberry.type(description="An upload's outcome: the document, and whether it was already there.")
class UploadedDocument:
    document: Document = strawberry.field(description="The stored (or existing) document.")
    duplicate: bool = strawberry.field(
        description="True if the collection already held the same file (same SHA-256): "
        "nothing was stored or indexed again."
    )


@strawberry.type(description="A step of a document's ingestion.")
class IngestionProgress:
    document_id: strawberry.ID = strawberry.field(description="The document.")
    status: DocumentStatus = strawberry.field(description="Its stage.")
    chunks_done: int = strawberry.field(description="Chunks embedded so far.")
    chunks_total: int = strawberry.field(description="Chunks to embed.")
    error_code: str | None = strawberry.field(description="Why it failed, when FAILED.")
    error_reason: str | None = strawberry.field(description="The failure, in words.")

    @classmethod
    def of(cls, document_id: uuid.UUID, progress: Progress) -> Self:
        error = progress.error
        return cls(
            document_id=gid(document_id),
            status=DocumentStatus[progress.status.name],
            chunks_done=progress.done,
            chunks_total=progress.total,
            error_code=None if error is None else error.code,
            error_reason=None if error is None else error.reason,
        )


@strawberry.input(description="A new collection.")
class CreateCollectionInput:
    name: str = strawberry.field(description="Unique display name.")
    embedding_model_id: strawberry.ID = strawberry.field(
        description="The embedding model to index it with."
    )
    description: str = strawberry.field(default="", description="What it holds.")
    audience: AudienceInput | None = strawberry.field(
        default=None, description="Who its documents are for (omitted: everyone)."
    )

    def to_fields(self) -> CollectionFields:
        return _collection_fields(self)


@strawberry.input(description="Changes to a collection; omitted fields stay as they are.")
class UpdateCollectionInput:
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    embedding_model_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Re-embed with this model in the background, then switch to it.",
    )
    audience: AudienceInput | None = strawberry.field(
        default=None,
        description="Replaces who its documents are for; nothing is embedded again.",
    )

    def to_fields(self) -> CollectionFields:
        return _collection_fields(self)


def _collection_fields(input: CreateCollectionInput | UpdateCollectionInput) -> CollectionFields:
    return input_fields(
        input,
        CollectionFields,
        embedding_model_id=parse_optional_id(input.embedding_model_id, "embeddingModelId"),
        audience=_audience(input.audience),
    )


@strawberry.input(description="Metadata of a document; omitted fields stay as they are.")
class DocumentMetadataInput:
    title: str | None = strawberry.field(default=None, description="Title.")
    effective_date: date | None = strawberry.field(
        default=None, description="When the policy takes effect."
    )
    outdated: bool | None = strawberry.field(
        default=None, description="Outdated documents are left out of answers."
    )
    tags: list[str] | None = strawberry.field(default=None, description="Labels (replaces all).")
    audience: AudienceInput | None = strawberry.field(
        default=None,
        description="Who it is for (replaces its audience; on upload, omitted is everyone). "
        "Nothing is indexed again.",
    )

    def to_fields(self) -> DocumentFields:
        return input_fields(self, DocumentFields, audience=_audience(self.audience))


CollectionResult = Annotated[
    Collection | UserErrorType,
    strawberry.union("CollectionResult", description="A collection, or why not."),
]
CollectionConnectionResult = Annotated[
    Connection[Collection] | UserErrorType,
    strawberry.union("CollectionConnectionResult", description="A page of collections."),
]
DocumentResult = Annotated[
    Document | UserErrorType,
    strawberry.union("DocumentResult", description="A document, or why not."),
]
DocumentConnectionResult = Annotated[
    Connection[Document] | UserErrorType,
    strawberry.union("DocumentConnectionResult", description="A page of documents."),
]
UploadDocumentResult = Annotated[
    UploadedDocument | UserErrorType,
    strawberry.union("UploadDocumentResult", description="The uploaded document, or why not."),
]
