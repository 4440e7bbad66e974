"""The model catalogue: embedding models and LLMs that agents are configured with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import ConflictError, InvalidInputError, NotFoundError
from ezhr_graphql.models import EmbeddingModel, LlmModel
from ezhr_graphql.models.types import NAME_LENGTH, URL_LENGTH
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import (
    EmbeddingModelRepository,
    LlmModelRepository,
    NamedRepository,
)
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor

EMBEDDING_PROVIDERS = ("local", "openai", "azure_openai", "ollama", "openai_like")
LLM_PROVIDERS = ("local", "openai", "azure_openai", "openai_like", "ollama", "scripted")
MAX_DIMENSIONS = 16384
MAX_CONTEXT_WINDOW = 10_000_000

R = TypeVar("R", EmbeddingModel, LlmModel)


def _provider(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError("provider", f"provider must be one of {', '.join(allowed)}")
    return value


def _base_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = validation.text("baseUrl", value, URL_LENGTH)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("baseUrl", "baseUrl must be an http(s) URL")
    if parts.username or parts.password:
        # Every member can read an LLM's base URL: credentials go in secretRef.
        raise InvalidInputError("baseUrl", "baseUrl must not contain credentials")
    return url


def _secret_ref(value: str) -> str | None:
    return validation.text("secretRef", value, NAME_LENGTH, required=False) or None


@dataclass(frozen=True, slots=True)
class EmbeddingModelFields:
    """Fields of an embedding model; ``None`` means "leave unchanged" on update."""

    name: str | None = None
    description: str | None = None
    provider: str | None = None
    model_name: str | None = None
    dimensions: int | None = None
    base_url: str | None = None
    secret_ref: str | None = None

    def cleaned(self) -> dict[str, Any]:
        return validation.clean(
            self,
            {
                "name": validation.NAME,
                "description": validation.DESCRIPTION,
                "provider": lambda value: _provider(value, EMBEDDING_PROVIDERS),
                "model_name": validation.MODEL_NAME,
                "dimensions": validation.integers("dimensions", 1, MAX_DIMENSIONS),
                "base_url": _base_url,
                "secret_ref": _secret_ref,
            },
        )


@dataclass(frozen=True, slots=True)
class LlmModelFields:
    name: str | None = None
    description: str | None = None
    provider: str | None = None
    model_name: str | None = None
    base_url: str | None = None
    context_window: int | None = None
    secret_ref: str | None = None

    def cleaned(self) -> dict[str, Any]:
        return validation.clean(
            self,
            {
                "name": validation.NAME,
                "description": validation.DESCRIPTION,
                "provider": lambda value: _provider(value, LLM_PROVIDERS),
                "model_name": validation.MODEL_NAME,
                "base_url": _base_url,
                "context_window": validation.integers("contextWindow", 256, MAX_CONTEXT_WINDOW),
                "secret_ref": _secret_ref,
            },
        )


class _CatalogService(Generic[R]):
    """Create/read/update/delete shared by both catalogues (admins write, all read)."""

    entity: str
    required: tuple[str, ...]
    repo: NamedRepository[R]
    model: type[R]

    def __init__(self, session: AsyncSession) -> None:
        self.agents = AgentRepository.from_session(session)

    async def get(self, actor: Actor, id: uuid.UUID) -> R:
        row = await self.repo.get(id)
        if row is None:
            raise NotFoundError(self.entity, id)
        return row

    async def page(self, actor: Actor, first: int, after: str | None) -> Page[R]:
        return await self.repo.page(first, after)

    async def _unique_name(self, name: str, current: R | None = None) -> None:
        existing = await self.repo.get_by_name(name)
        if existing is not None and existing is not current:
            raise ConflictError(f"A {self.entity.lower()} named {name!r} exists", field="name")

    async def create(self, actor: Actor, values: dict[str, Any]) -> R:
        actor.require_admin()
        for name in self.required:
            if name not in values:
                field = validation.camel(name)
                raise InvalidInputError(field, f"{field} is required")
        await self._unique_name(values["name"])
        row = self.repo.add(self.model(**values))
        await self.repo.flush()
        return row

    # Fields that change what the model's vectors mean: fixed while vectors exist.
    identity: tuple[str, ...] = ()

    async def _has_vectors(self, id: uuid.UUID) -> bool:
        return False

    async def update(self, actor: Actor, id: uuid.UUID, values: dict[str, Any]) -> R:
        actor.require_admin()
        row = await self.get(actor, id)
        changed = [f for f in self.identity if f in values and values[f] != getattr(row, f)]
        if changed and await self._has_vectors(id):
            field = validation.camel(changed[0])
            raise ConflictError(
                f"{field} cannot change while collections are indexed with this model; "
                "create a new model and switch the collections to it",
                field=field,
            )
        if "name" in values:
            await self._unique_name(values["name"], row)
        for name, value in values.items():
            setattr(row, name, value)
        await self.repo.flush()
        return row

    async def delete(self, actor: Actor, id: uuid.UUID) -> R:
        actor.require_admin()
        row = await self.get(actor, id)
        if await self._in_use(id):
            raise ConflictError(f"This {self.entity.lower()} is used by an agent or a collection")
        row.soft_delete()
        await self.repo.flush()
        return row

    async def _in_use(self, id: uuid.UUID) -> bool:
        raise NotImplementedError


class EmbeddingModelService(_CatalogService[EmbeddingModel]):
    entity = "Embedding model"
    model = EmbeddingModel
    required = ("name", "provider", "model_name", "dimensions")

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.repo = EmbeddingModelRepository.from_session(session)
        self.collections = CollectionRepository.from_session(session)

    identity = ("provider", "model_name", "dimensions")

    async def _has_vectors(self, id: uuid.UUID) -> bool:
        return await self.collections.uses_model(id)

    async def _in_use(self, id: uuid.UUID) -> bool:
        return await self.agents.uses_model(
            embedding_model_id=id
        ) or await self.collections.uses_model(id)


class LlmModelService(_CatalogService[LlmModel]):
    entity = "LLM model"
    model = LlmModel
    required = ("name", "provider", "model_name")

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.repo = LlmModelRepository.from_session(session)

    async def _in_use(self, id: uuid.UUID) -> bool:
        return await self.agents.uses_model(llm_model_id=id)
