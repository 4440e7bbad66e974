from __future__ import annotations

from sqlalchemy import select

from ezhr_graphql.models import EmbeddingModel, LlmModel
from ezhr_graphql.repositories.base import STRING, UUID, Keyset, M, Page, Repository, key


class NamedRepository(Repository[M]):
    keyset: Keyset

    async def get_by_name(self, name: str) -> M | None:
        return await self.session.scalar(select(self.model).where(self.model.name == name))  # type: ignore[attr-defined,arg-type]

    async def page(self, first: int, after: str | None) -> Page[M]:
        return await self.keyset.page(self.session, select(self.model), first, after)


class EmbeddingModelRepository(NamedRepository[EmbeddingModel]):
    model = EmbeddingModel
    keyset = Keyset(key(EmbeddingModel.name, STRING), key(EmbeddingModel.id, UUID))


class LlmModelRepository(NamedRepository[LlmModel]):
    model = LlmModel
    keyset = Keyset(key(LlmModel.name, STRING), key(LlmModel.id, UUID))
