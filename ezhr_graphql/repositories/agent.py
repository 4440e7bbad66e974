from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, bindparam, or_, select

from ezhr_graphql.models import Agent, Visibility
from ezhr_graphql.repositories.ai_model import NamedRepository
from ezhr_graphql.repositories.base import STRING, UUID, Keyset, Page, key
from ezhr_graphql.repositories.columns import AgentColumns

_AGENT = Agent.__table__.c
# By name; the list reads plain columns (see repositories.columns).
LIST_KEYSET = Keyset(key(_AGENT.name, STRING), key(_AGENT.id, UUID))


def _list(is_admin: bool) -> Select[Any]:
    stmt = select(*(_AGENT[name] for name in AgentColumns._fields))
    stmt = stmt.where(_AGENT.deleted_at.is_(None))
    if not is_admin:
        visible = or_(
            _AGENT.visibility == Visibility.PUBLIC, _AGENT.owner_id == bindparam("user_id")
        )
        stmt = stmt.where(visible)
    return stmt


@functools.lru_cache(maxsize=128)
def _first_page(is_admin: bool, first: int) -> Select[Any]:
    """The statement of the usual request, built once per size: building it costs
    more than running it."""
    return LIST_KEYSET.statement(_list(is_admin), first, None)


class AgentRepository(NamedRepository[Agent]):
    model = Agent
    keyset = LIST_KEYSET

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
    ) -> Page[AgentColumns]:
        """A page of the live agents the user may see (every one, for an admin), by
        name, read as plain columns.

        Raises:
            InvalidInputError: ``after`` is not a cursor of this list.
        """
        if after is None:
            stmt = _first_page(is_admin, first)
        else:
            stmt = LIST_KEYSET.statement(_list(is_admin), first, after)
        connection = await self.session.connection()
        rows = (await connection.execute(stmt, {"user_id": user_id})).all()
        return Page(
            items=[AgentColumns._make(row) for row in rows[:first]],
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
            keyset=LIST_KEYSET,
        )

    async def uses_model(
        self, *, llm_model_id: uuid.UUID | None = None, embedding_model_id: uuid.UUID | None = None
    ) -> bool:
        stmt = select(Agent.id)
        if llm_model_id is not None:
            stmt = stmt.where(Agent.llm_model_id == llm_model_id)
        if embedding_model_id is not None:
            stmt = stmt.where(Agent.embedding_model_id == embedding_model_id)
        return (await self.session.scalar(stmt.limit(1))) is not None
