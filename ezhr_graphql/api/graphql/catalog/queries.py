"""Catalogue queries: embedding models and LLMs (any signed-in user may read them)."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.catalog.types import (
    EmbeddingModel,
    EmbeddingModelConnectionResult,
    EmbeddingModelResult,
    LlmModel,
    LlmModelConnectionResult,
    LlmModelResult,
)
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.container import Services

T = TypeVar("T")


Service = Callable[[Services], Any]
EMBEDDING_MODELS: Service = attrgetter("embedding_models")
LLM_MODELS: Service = attrgetter("llm_models")


async def _get(
    info: Info, service: Service, id: strawberry.ID, convert: Callable[[Any], T]
) -> T | UserErrorType:
    return await resolve.query(info.context, lambda s, a: service(s).get(a, parse_id(id)), convert)


async def _page(
    info: Info,
    service: Service,
    first: int,
    after: str | None,
    convert: Callable[[Any], T],
) -> Connection[T] | UserErrorType:
    ctx = info.context
    return await resolve.query(
        ctx,
        lambda s, a: service(s).page(a, ctx.page_size(first), after),
        lambda page: Connection.of(page, convert),
    )


@strawberry.type
class CatalogQueries:
    @strawberry.field(description="Embedding models, by name.")
    async def embedding_models(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> EmbeddingModelConnectionResult:
        return await _page(info, EMBEDDING_MODELS, first, after, EmbeddingModel.from_model)

    @strawberry.field(description="One embedding model.")
    async def embedding_model(self, info: Info, id: strawberry.ID) -> EmbeddingModelResult:
        return await _get(info, EMBEDDING_MODELS, id, EmbeddingModel.from_model)

    @strawberry.field(description="LLMs, by name.")
    async def llm_models(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> LlmModelConnectionResult:
        return await _page(info, LLM_MODELS, first, after, LlmModel.from_model)

    @strawberry.field(description="One LLM.")
    async def llm_model(self, info: Info, id: strawberry.ID) -> LlmModelResult:
        return await _get(info, LLM_MODELS, id, LlmModel.from_model)
