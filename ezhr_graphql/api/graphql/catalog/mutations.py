"""Catalogue mutations (admins only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.catalog.queries import EMBEDDING_MODELS, LLM_MODELS, Service
from ezhr_graphql.api.graphql.catalog.types import (
    CreateEmbeddingModelInput,
    CreateLlmModelInput,
    EmbeddingModel,
    EmbeddingModelResult,
    LlmModel,
    LlmModelResult,
    UpdateEmbeddingModelInput,
    UpdateLlmModelInput,
)
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.results import Deleted, DeleteResult, deleted
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.models.audit import AuditAction

T = TypeVar("T")


def _create(
    info: Info, service: Service, input: Any, convert: Callable[[Any], T]
) -> Awaitable[T | UserErrorType]:
    return resolve.change(
        info.context,
        lambda s, a: service(s).create(a, input.to_fields().cleaned()),
        convert,
        admin=True,
        audit=AuditAction.MODEL_CREATED,
    )


def _update(
    info: Info, service: Service, id: strawberry.ID, input: Any, convert: Callable[[Any], T]
) -> Awaitable[T | UserErrorType]:
    return resolve.change(
        info.context,
        lambda s, a: service(s).update(a, parse_id(id), input.to_fields().cleaned()),
        convert,
        admin=True,
        audit=AuditAction.MODEL_CHANGED,
    )


def _delete(info: Info, service: Service, id: strawberry.ID) -> Awaitable[Deleted | UserErrorType]:
    return resolve.change(
        info.context,
        lambda s, a: service(s).delete(a, parse_id(id)),
        deleted,
        admin=True,
        audit=AuditAction.MODEL_DELETED,
    )


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(description="Add an embedding model (admins only).")
    async def create_embedding_model(
        self, info: Info, input: CreateEmbeddingModelInput
    ) -> EmbeddingModelResult:
        return await _create(info, EMBEDDING_MODELS, input, EmbeddingModel.from_model)

    @strawberry.mutation(description="Change an embedding model (admins only).")
    async def update_embedding_model(
        self, info: Info, id: strawberry.ID, input: UpdateEmbeddingModelInput
    ) -> EmbeddingModelResult:
        return await _update(info, EMBEDDING_MODELS, id, input, EmbeddingModel.from_model)

    @strawberry.mutation(description="Delete an embedding model no agent uses (admins only).")
    async def delete_embedding_model(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await _delete(info, EMBEDDING_MODELS, id)

    @strawberry.mutation(description="Add an LLM (admins only).")
    async def create_llm_model(self, info: Info, input: CreateLlmModelInput) -> LlmModelResult:
        return await _create(info, LLM_MODELS, input, LlmModel.from_model)

    @strawberry.mutation(description="Change an LLM (admins only).")
    async def update_llm_model(
        self, info: Info, id: strawberry.ID, input: UpdateLlmModelInput
    ) -> LlmModelResult:
        return await _update(info, LLM_MODELS, id, input, LlmModel.from_model)

    @strawberry.mutation(description="Delete an LLM no agent uses (admins only).")
    async def delete_llm_model(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await _delete(info, LLM_MODELS, id)
