from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from ezhr_graphql.models import Agent, Visibility
from ezhr_graphql.repositories.ai_model import NamedRepository
from ezhr_graphql.repositories.base import STRING, UUID, Keyset, Page, key


class AgentRepository(NamedRepository[Agent]):
    model = Agent
    keyset = Keyset(key(Agent.name, STRING), key(Agent.id, UUID))

    @staticmethod
    def _visible_to(user_id: uuid.UUID, is_admin: bool) -> object:
        if is_admin:
            return True
        return or_(Agent.visibility == Visibility.PUBLIC, Agent.owner_id == user_id)

    async def get_visible(self, id: uuid.UUID, user_id: uuid.UUID, is_admin: bool) -> Agent | None:
        stmt = select(Agent).where(Agent.id == id)
        if not is_admin:
            stmt = stmt.where(self._visible_to(user_id, is_admin))  # type: ignore[arg-type]
        return await self.session.scalar(stmt)

    async def get_many_visible(
        self, ids: list[uuid.UUID], user_id: uuid.UUID | None, is_admin: bool
    ) -> dict[uuid.UUID, Agent]:
        if not ids:
            return {}
        stmt = select(Agent).where(Agent.id.in_(ids))
        if not is_admin:
            if user_id is None:
                stmt = stmt.where(Agent.visibility == Visibility.PUBLIC)
            else:
                stmt = stmt.where(self._visible_to(user_id, is_admin))  # type: ignore[arg-type]
        return {row.id: row for row in await self.session.scalars(stmt)}

    async def page_visible(
        self, user_id: uuid.UUID, is_admin: bool, first: int, after: str | None
    ) -> Page[Agent]:
        stmt = select(Agent)
        if not is_admin:
            stmt = stmt.where(self._visible_to(user_id, is_admin))  # type: ignore[arg-type]
        return await self.keyset.page(self.session, stmt, first, after)

    async def uses_model(
        self, *, llm_model_id: uuid.UUID | None = None, embedding_model_id: uuid.UUID | None = None
    ) -> bool:
        stmt = select(Agent.id)
        if llm_model_id is not None:
            stmt = stmt.where(Agent.llm_model_id == llm_model_id)
        if embedding_model_id is not None:
            stmt = stmt.where(Agent.embedding_model_id == embedding_model_id)
        return (await self.session.scalar(stmt.limit(1))) is not None
