"""Removing conversations for real, rows and all: the one way retention and erasure
delete what people wrote.

Everything here is plain Core on the tables, so soft-deleted rows are found too (the
ORM hides them, see :mod:`ezhr_graphql.db.database`). Each delete says how many rows
it removed, so two processes deleting the same conversations at once count each row
once: whichever comes second finds nothing left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, delete, select, update
from sqlalchemy.engine import CursorResult

from ezhr_graphql.db.base import Base
from ezhr_graphql.models import (
    Agent,
    ChatFeedback,
    ChatMessage,
    ChatSession,
    Folder,
    MessageStatus,
    SignInCode,
)
from ezhr_graphql.repositories.base import Queries

# At most this many conversations are named in one statement (SQL Server takes 2100
# parameters; a transaction of this many stays short).
PURGE_BATCH = 200

_SESSION: Table = ChatSession.__table__  # type: ignore[assignment]
_MESSAGE: Table = ChatMessage.__table__  # type: ignore[assignment]
_FEEDBACK: Table = ChatFeedback.__table__  # type: ignore[assignment]
_FOLDER: Table = Folder.__table__  # type: ignore[assignment]
_AGENT: Table = Agent.__table__  # type: ignore[assignment]
_CODE: Table = SignInCode.__table__  # type: ignore[assignment]
RUNNING = (MessageStatus.PENDING, MessageStatus.STREAMING)
CONVERSATION_TABLES = frozenset({_SESSION.name, _MESSAGE.name})


def dependents() -> Iterator[tuple[Table, Column[Any], str]]:
    """Every other table holding a foreign key to a session or a message: its rows go
    first. Read from the models, so a table added later is removed with them."""
    for table in Base.metadata.sorted_tables:
        if table.name in CONVERSATION_TABLES:
            continue
        for key in table.foreign_keys:
            if key.column.table.name in CONVERSATION_TABLES:
                yield table, key.parent, key.column.table.name


@dataclass
class Purged:
    """What a purge removed: counts, and the messages whose streams go next."""

    sessions: int = 0
    messages: int = 0
    # Rows of the tables that depend on sessions or messages, by table.
    dependents: dict[str, int] = field(default_factory=dict)
    message_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def feedback(self) -> int:
        return self.dependents.get(_FEEDBACK.name, 0)

    def add(self, other: Purged) -> None:
        self.sessions += other.sessions
        self.messages += other.messages
        for name, count in other.dependents.items():
            self.dependents[name] = self.dependents.get(name, 0) + count
        self.message_ids.extend(other.message_ids)


def _count(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return max(int(result.rowcount), 0)


class PurgeRepository(Queries):
    async def _run(self, statement: Any) -> int:
        return _count(await self.session.execute(statement))

    async def sessions(self, ids: Sequence[uuid.UUID]) -> Purged:
        """Remove the sessions ``ids`` (at most :data:`PURGE_BATCH`) with their
        messages and what depends on them, whatever their ``deleted_at``.

        The first statement locks the sessions (where the database locks rows), so a
        concurrent purge of the same ones waits, then finds nothing to remove.
        """
        assert len(ids) <= PURGE_BATCH
        purged = Purged()
        if not ids:
            return purged
        ids = list(ids)
        # Sessions point at their current message; messages at their parent.
        await self._run(
            update(_SESSION).where(_SESSION.c.id.in_(ids)).values(current_message_id=None)
        )
        of_sessions = select(_MESSAGE.c.id).where(_MESSAGE.c.session_id.in_(ids))
        # Locked (where rows lock): a feedback written meanwhile waits, then finds its
        # message gone, rather than fail this purge's delete of the messages.
        purged.message_ids = list(await self.session.scalars(of_sessions.with_for_update()))
        for table, column, target in dependents():
            inside = of_sessions if target == _MESSAGE.name else ids
            removed = await self._run(delete(table).where(column.in_(inside)))
            purged.dependents[table.name] = purged.dependents.get(table.name, 0) + removed
        await self._run(
            update(_MESSAGE)
            .where(_MESSAGE.c.session_id.in_(ids), _MESSAGE.c.parent_id.is_not(None))
            .values(parent_id=None)
        )
        purged.messages = await self._run(delete(_MESSAGE).where(_MESSAGE.c.session_id.in_(ids)))
        purged.sessions = await self._run(delete(_SESSION).where(_SESSION.c.id.in_(ids)))
        return purged

    async def folders(self, ids: Sequence[uuid.UUID]) -> int:
        """Remove the folders ``ids``; sessions still in them (a soft-deleted folder's
        sessions were moved out, but not those already deleted) leave them first."""
        if not ids:
            return 0
        ids = list(ids)
        await self._run(
            update(_SESSION).where(_SESSION.c.folder_id.in_(ids)).values(folder_id=None)
        )
        return await self._run(delete(_FOLDER).where(_FOLDER.c.id.in_(ids)))

    # --- what to remove ---------------------------------------------------------

    async def _ids(self, statement: Any) -> list[uuid.UUID]:
        return list(await self.session.scalars(statement))

    async def retained_agents(self) -> list[tuple[uuid.UUID, int]]:
        """Agents with a retention period (deleted ones too: deleting an agent does
        not keep its conversations for ever), with their periods in days."""
        rows = await self.session.execute(
            select(_AGENT.c.id, _AGENT.c.retention_days).where(_AGENT.c.retention_days.is_not(None))
        )
        return [(agent_id, int(days)) for agent_id, days in rows]

    async def idle_sessions(self, agent_id: uuid.UUID, before: datetime) -> list[uuid.UUID]:
        """Sessions with the agent whose last activity is before ``before`` (sending a
        message, a reply, a new title or any change sets ``updated_at``)."""
        return await self._ids(
            select(_SESSION.c.id)
            .where(_SESSION.c.agent_id == agent_id, _SESSION.c.updated_at < before)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )

    async def deleted_sessions(self, before: datetime) -> list[uuid.UUID]:
        return await self._ids(
            select(_SESSION.c.id)
            .where(_SESSION.c.deleted_at < before)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )

    async def deleted_folders(self, before: datetime) -> list[uuid.UUID]:
        return await self._ids(
            select(_FOLDER.c.id).where(_FOLDER.c.deleted_at < before).limit(PURGE_BATCH)
        )

    async def lock_owned_sessions(self, owner_id: uuid.UUID) -> None:
        """Hold every session of the owner until the transaction ends (where rows
        lock), before their user row: sending a message locks in that order too."""
        await self.session.execute(
            select(_SESSION.c.id).where(_SESSION.c.owner_id == owner_id).with_for_update()
        )

    async def owned_sessions(self, owner_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._ids(
            select(_SESSION.c.id).where(_SESSION.c.owner_id == owner_id).limit(PURGE_BATCH)
        )

    async def owned_folders(self, owner_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._ids(
            select(_FOLDER.c.id).where(_FOLDER.c.owner_id == owner_id).limit(PURGE_BATCH)
        )

    async def streaming_replies(self, owner_id: uuid.UUID) -> list[uuid.UUID]:
        """The owner's replies still being generated (their runs are stopped)."""
        return await self._ids(
            select(_MESSAGE.c.id)
            .join(_SESSION, _SESSION.c.id == _MESSAGE.c.session_id)
            .where(_SESSION.c.owner_id == owner_id, _MESSAGE.c.status.in_(RUNNING))
        )

    async def feedback_by(self, user_id: uuid.UUID) -> int:
        """Remove the feedback ``user_id`` gave (on their own replies, gone already)."""
        return await self._run(delete(_FEEDBACK).where(_FEEDBACK.c.user_id == user_id))

    async def sign_in_codes(self, user_id: uuid.UUID) -> int:
        return await self._run(delete(_CODE).where(_CODE.c.user_id == user_id))
