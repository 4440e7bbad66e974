"""Approved answers: listed for administrators, and the ones a question may get."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select, update

from ezhr_graphql.models import ApprovedAnswer
from ezhr_graphql.repositories.audience import Reader, approved_answer_admits
from ezhr_graphql.repositories.base import DATETIME, UUID, Keyset, Page, Repository, key

# Newest first.
APPROVED_KEYSET = Keyset(
    key(ApprovedAnswer.created_at, DATETIME, desc=True),
    key(ApprovedAnswer.id, UUID, desc=True),
)


class ApprovedAnswerRepository(Repository[ApprovedAnswer]):
    model = ApprovedAnswer

    async def page(
        self, agent_id: uuid.UUID | None, retired: bool | None, first: int, after: str | None
    ) -> Page[ApprovedAnswer]:
        """``agent_id``: the answers for that agent (every agent's included);
        ``retired``: only retired (True) or only in use (False) answers."""
        stmt = select(ApprovedAnswer)
        if agent_id is not None:
            stmt = stmt.where(
                or_(ApprovedAnswer.agent_id == agent_id, ApprovedAnswer.agent_id.is_(None))
            )
        if retired is True:
            stmt = stmt.where(ApprovedAnswer.retired_at.is_not(None))
        elif retired is False:
            stmt = stmt.where(ApprovedAnswer.retired_at.is_(None))
        return await APPROVED_KEYSET.page(self.session, stmt, first, after)

    async def in_use_for(
        self, agent_id: uuid.UUID, reader: Reader, language: str
    ) -> list[ApprovedAnswer]:
        """The answers in use a question to ``agent_id`` in ``language`` by ``reader``
        may get: the agent's and every agent's, whose audience admits the reader."""
        rows = await self.session.scalars(
            select(ApprovedAnswer).where(
                or_(ApprovedAnswer.agent_id == agent_id, ApprovedAnswer.agent_id.is_(None)),
                ApprovedAnswer.retired_at.is_(None),
                ApprovedAnswer.language == language,
                approved_answer_admits(reader),
            )
        )
        return list(rows)

    async def count_hit(self, answer_id: uuid.UUID, at: datetime) -> bool:
        """One more question answered by it, if it is still in use (an increment in
        the database: two workers counting at once both count); whether it was."""
        result = await self.session.execute(
            update(ApprovedAnswer)
            .where(
                ApprovedAnswer.id == answer_id,
                ApprovedAnswer.retired_at.is_(None),
                ApprovedAnswer.deleted_at.is_(None),
            )
            .values(hit_count=ApprovedAnswer.hit_count + 1, last_hit_at=at)
        )
        return bool(getattr(result, "rowcount", 0))
