from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.errors import (
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    UserErrorType,
)
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import gid, input_fields
from ezhr_graphql.models import EmbeddingModel as EmbeddingModelRow
from ezhr_graphql.models import LlmModel as LlmModelRow
from ezhr_graphql.services.catalog import EmbeddingModelFields, LlmModelFields


@strawberry.type(description="A model that turns text into vectors for retrieval.")
class EmbeddingModel:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    name: str = strawberry.field(description="Unique display name.")
    description: str = strawberry.field(description="What it is for.")
    provider: str = strawberry.field(
        description="Who runs it: local, openai, azure_openai, ollama or openai_like."
    )
    model_name: str = strawberry.field(description="The provider's name for the model.")
    dimensions: int = strawberry.field(description="Length of its vectors.")
    base_url: str | None = strawberry.field(description="Endpoint for self-hosted providers.")
    has_secret: bool = strawberry.field(
        description="Whether a secret reference is configured (the secret is never shown)."
    )
    created_at: datetime = strawberry.field(description="When it was added.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_model(cls, row: EmbeddingModelRow) -> Self:
        return cls(
            id=gid(row.id),
            name=row.name,
            description=row.description,
            provider=row.provider,
            model_name=row.model_name,
            dimensions=row.dimensions,
            base_url=row.base_url,
            has_secret=row.secret_ref is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A large language model that agents answer with.")
class LlmModel:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    name: str = strawberry.field(description="Unique display name.")
    description: str = strawberry.field(description="What it is for.")
    provider: str = strawberry.field(
        description="Who runs it: local, openai, azure_openai, openai_like or ollama."
    )
    model_name: str = strawberry.field(description="The provider's name for the model.")
    base_url: str | None = strawberry.field(description="Endpoint for self-hosted providers.")
    context_window: int = strawberry.field(description="Tokens the model can attend to.")
    has_secret: bool = strawberry.field(
        description="Whether a secret reference is configured (the secret is never shown)."
    )
    created_at: datetime = strawberry.field(description="When it was added.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_model(cls, row: LlmModelRow) -> Self:
        return cls(
            id=gid(row.id),
            name=row.name,
            description=row.description,
            provider=row.provider,
            model_name=row.model_name,
            base_url=row.base_url,
            context_window=row.context_window,
            has_secret=row.secret_ref is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(description="A new embedding model.")
class CreateEmbeddingModelInput:
    name: str = strawberry.field(description="Unique display name.")
    provider: str = strawberry.field(
        description="local, openai, azure_openai, ollama or openai_like."
    )
    model_name: str = strawberry.field(description="The provider's name for the model.")
    dimensions: int = strawberry.field(description="Length of its vectors.")
    description: str = strawberry.field(default="", description="What it is for.")
    base_url: str | None = strawberry.field(default=None, description="Endpoint, when self-hosted.")
    secret_ref: str | None = strawberry.field(
        default=None,
        description="Name of the setting that holds the API key (write-only; never returned).",
    )

    def to_fields(self) -> EmbeddingModelFields:
        return input_fields(self, EmbeddingModelFields)


@strawberry.input(description="Changes to an embedding model; omitted fields stay as they are.")
class UpdateEmbeddingModelInput:
    name: str | None = strawberry.field(default=None, description="New name.")
    provider: str | None = strawberry.field(default=None, description="New provider.")
    model_name: str | None = strawberry.field(default=None, description="New model name.")
    dimensions: int | None = strawberry.field(default=None, description="New vector length.")
    description: str | None = strawberry.field(default=None, description="New description.")
    base_url: str | None = strawberry.field(default=None, description="New endpoint.")
    secret_ref: str | None = strawberry.field(
        default=None, description="New secret reference (write-only)."
    )

    def to_fields(self) -> EmbeddingModelFields:
        return input_fields(self, EmbeddingModelFields)


@strawberry.input(description="A new LLM.")
class CreateLlmModelInput:
    name: str = strawberry.field(description="Unique display name.")
    provider: str = strawberry.field(
        description="local, openai, azure_openai, openai_like or ollama."
    )
    model_name: str = strawberry.field(description="The provider's name for the model.")
    description: str = strawberry.field(default="", description="What it is for.")
    base_url: str | None = strawberry.field(default=None, description="Endpoint, when self-hosted.")
    context_window: int = strawberry.field(default=4096, description="Tokens the model attends to.")
    secret_ref: str | None = strawberry.field(
        default=None,
        description="Name of the setting that holds the API key (write-only; never returned).",
    )

    def to_fields(self) -> LlmModelFields:
        return input_fields(self, LlmModelFields)


@strawberry.input(description="Changes to an LLM; omitted fields stay as they are.")
class UpdateLlmModelInput:
    name: str | None = strawberry.field(default=None, description="New name.")
    provider: str | None = strawberry.field(default=None, description="New provider.")
    model_name: str | None = strawberry.field(default=None, description="New model name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    base_url: str | None = strawberry.field(default=None, description="New endpoint.")
    context_window: int | None = strawberry.field(default=None, description="New context size.")
    secret_ref: str | None = strawberry.field(
        default=None, description="New secret reference (write-only)."
    )

    def to_fields(self) -> LlmModelFields:
        return input_fields(self, LlmModelFields)


EmbeddingModelResult = Annotated[
    EmbeddingModel | UserErrorType,
    strawberry.union("EmbeddingModelResult", description="An embedding model, or why not."),
]
LlmModelResult = Annotated[
    LlmModel | UserErrorType,
    strawberry.union("LlmModelResult", description="An LLM, or why not."),
]
EmbeddingModelConnectionResult = Annotated[
    Connection[EmbeddingModel]
    | NotFound
    | InvalidInput
    | PermissionDenied
    | Conflict
    | LimitExceeded,
    strawberry.union("EmbeddingModelConnectionResult", description="A page of embedding models."),
]
LlmModelConnectionResult = Annotated[
    Connection[LlmModel] | UserErrorType,
    strawberry.union("LlmModelConnectionResult", description="A page of LLMs."),
]
