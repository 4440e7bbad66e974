"""Catalogue queries: embedding models and LLMs (any signed-in user may read them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.api import resolve
from ezhr_graphql.api.catalog.types import (
    EmbeddingModel,
    EmbeddingModelConnectionResult,
    EmbeddingModelResult,
    LlmModel,
    LlmModelConnectionResult,
    LlmModelResult,
)
from ezhr_graphql.api.context import Info
from ezhr_graphql.api.errors import UserErrorType
from ezhr_graphql.api.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.scalars import parse_id
from ezhr_graphql.services.catalog import EmbeddingModelService, LlmModelService

T = TypeVar("T")


async def _get(
    info: Info,
    service: Callable[[AsyncSession], Any],
    id: strawberry.ID,
    convert: Callable[[Any], T],
) -> T | UserErrorType:
    ctx = info.context
    actor = ctx.require_actor()

    async def action(session: AsyncSession) -> T:
        return convert(await service(session).get(actor, parse_id(id)))

    return await resolve.read(ctx, action)


async def _page(
    info: Info,
    service: Callable[[AsyncSession], Any],
    first: int,
    after: str | None,
    convert: Callable[[Any], T],
) -> Connection[T] | UserErrorType:
    ctx = info.context
    actor = ctx.require_actor()

    async def action(session: AsyncSession) -> Connection[T]:
        page = await service(session).page(actor, ctx.page_size(first), after)
        return Connection.of(page, convert)

    return await resolve.read(ctx, action)


@strawberry.type
class CatalogQueries:
    @strawberry.field(description="Embedding models, by name.")
    async def embedding_models(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> EmbeddingModelConnectionResult:
        return await _page(info, EmbeddingModelService, first, after, EmbeddingModel.from_model)

    @strawberry.field(description="One embedding model.")
    async def embedding_model(self, info: Info, id: strawberry.ID) -> EmbeddingModelResult:
        return await _get(info, EmbeddingModelService, id, EmbeddingModel.from_model)

    @strawberry.field(description="LLMs, by name.")
    async def llm_models(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> LlmModelConnectionResult:
        return await _page(info, LlmModelService, first, after, LlmModel.from_model)

    @strawberry.field(description="One LLM.")
    async def llm_model(self, info: Info, id: strawberry.ID) -> LlmModelResult:
        return await _get(info, LlmModelService, id, LlmModel.from_model)
