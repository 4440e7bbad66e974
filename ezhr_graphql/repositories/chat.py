"""Folders, chat sessions and messages. Every query is scoped to its owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select, update

from ezhr_graphql.models import (
    Agent,
    ChatFeedback,
    ChatMessage,
    ChatSession,
    Folder,
    LlmModel,
    MessageStatus,
)
from ezhr_graphql.repositories.base import (
    DATETIME,
    STRING,
    UUID,
    Keyset,
    Page,
    Repository,
    key,
)

MESSAGES_KEYSET = Keyset(key(ChatMessage.created_at, DATETIME), key(ChatMessage.id, UUID))
FOLDERS_KEYSET = Keyset(key(Folder.name, STRING), key(Folder.id, UUID))


class FolderRepository(Repository[Folder]):
    model = Folder

    async def get_owned(self, id: uuid.UUID, owner_id: uuid.UUID) -> Folder | None:
        return await self.session.scalar(
            select(Folder).where(Folder.id == id, Folder.owner_id == owner_id)
        )

    async def page_owned(self, owner_id: uuid.UUID, first: int, after: str | None) -> Page[Folder]:
        stmt = select(Folder).where(Folder.owner_id == owner_id)
        return await FOLDERS_KEYSET.page(self.session, stmt, first, after)


class ChatSessionRepository(Repository[ChatSession]):
    model = ChatSession

    async def get_owned(
        self, id: uuid.UUID, owner_id: uuid.UUID, *, lock: bool = False
    ) -> ChatSession | None:
        """``lock``: hold the row until the transaction ends (databases with row locks;
        SQLite's single writer already serialises)."""
        stmt = select(ChatSession).where(ChatSession.id == id, ChatSession.owner_id == owner_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def in_folder(self, folder_id: uuid.UUID) -> list[ChatSession]:
        return list(
            (
                await self.session.scalars(
                    select(ChatSession).where(ChatSession.folder_id == folder_id)
                )
            ).all()
        )


class ChatMessageRepository(Repository[ChatMessage]):
    async def context_of(
        self, message_id: uuid.UUID
    ) -> tuple[ChatSession, Agent | None, LlmModel | None] | None:
        """A message's session with its agent and that agent's LLM (``None`` where
        deleted), in one statement."""
        row = (
            await self.session.execute(
                select(ChatSession, Agent, LlmModel)
                .join(ChatMessage, ChatMessage.session_id == ChatSession.id)
                .outerjoin(Agent, Agent.id == ChatSession.agent_id)
                .outerjoin(LlmModel, LlmModel.id == Agent.llm_model_id)
                .where(ChatMessage.id == message_id)
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    model = ChatMessage

    async def page_in_session(
        self, session_id: uuid.UUID, first: int, after: str | None
    ) -> Page[ChatMessage]:
        stmt = select(ChatMessage).where(ChatMessage.session_id == session_id)
        return await MESSAGES_KEYSET.page(self.session, stmt, first, after)

    async def last_by_session(
        self, session_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ChatMessage]:
        """The newest live message of each session, in one statement."""
        if not session_ids:
            return {}
        rows = await self.session.scalars(self.last_by_session_query(session_ids))
        return {row.session_id: row for row in rows}

    @staticmethod
    def last_by_session_query(session_ids: Sequence[uuid.UUID]) -> Select[ChatMessage]:
        ranked = (
            select(
                ChatMessage.id.label("id"),
                func.row_number()
                .over(
                    partition_by=ChatMessage.session_id,
                    order_by=(ChatMessage.created_at.desc(), ChatMessage.id.desc()),
                )
                .label("rank"),
            )
            .where(ChatMessage.session_id.in_(session_ids), ChatMessage.deleted_at.is_(None))
            .subquery()
        )
        return (
            select(ChatMessage)
            .join(ranked, ChatMessage.id == ranked.c.id)
            .where(ranked.c.rank == 1)
        )

    async def in_session(self, session_id: uuid.UUID) -> list[ChatMessage]:
        """Every live message of a session (a conversation is small enough to walk its
        tree in memory)."""
        rows = await self.session.scalars(
            select(ChatMessage).where(ChatMessage.session_id == session_id)
        )
        return list(rows.all())

    async def in_sessions(
        self, session_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[ChatMessage]]:
        found: dict[uuid.UUID, list[ChatMessage]] = {}
        if session_ids:
            rows = await self.session.scalars(
                select(ChatMessage).where(ChatMessage.session_id.in_(session_ids))
            )
            for row in rows:
                found.setdefault(row.session_id, []).append(row)
        return found

    async def by_client_id(
        self, session_id: uuid.UUID, client_message_id: str
    ) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.session_id == session_id,
                ChatMessage.client_message_id == client_message_id,
            )
        )

    async def first_child(self, parent_id: uuid.UUID) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage)
            .where(ChatMessage.parent_id == parent_id)
            .order_by(ChatMessage.created_at, ChatMessage.id)
            .limit(1)
        )

    async def owned(self, message_id: uuid.UUID, owner_id: uuid.UUID) -> ChatMessage | None:
        """A message of one of the owner's live sessions."""
        return await self.session.scalar(
            select(ChatMessage)
            .join(ChatSession, ChatSession.id == ChatMessage.session_id)
            .where(ChatMessage.id == message_id, ChatSession.owner_id == owner_id)
        )

    async def streaming(self, owner_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(message id, session id) of every reply the owner has being generated."""
        rows = await self.session.execute(
            select(ChatMessage.id, ChatMessage.session_id)
            .join(ChatSession, ChatSession.id == ChatMessage.session_id)
            .where(
                ChatSession.owner_id == owner_id,
                ChatMessage.status == MessageStatus.STREAMING,
            )
        )
        return [(row[0], row[1]) for row in rows]

    async def streaming_owners(
        self, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The owner of each of these messages still being generated (``STREAMING``, in
        a live session), by message id; the others are left out."""
        if not message_ids:
            return {}
        rows = await self.session.execute(
            select(ChatMessage.id, ChatSession.owner_id)
            .join(ChatSession, ChatSession.id == ChatMessage.session_id)
            .where(
                ChatMessage.id.in_(message_ids),
                ChatMessage.status == MessageStatus.STREAMING,
            )
        )
        return {row[0]: row[1] for row in rows}

    async def stale_streaming(self, older_than: datetime) -> list[ChatMessage]:
        rows = await self.session.scalars(
            select(ChatMessage).where(
                ChatMessage.status == MessageStatus.STREAMING,
                ChatMessage.updated_at < older_than,
            )
        )
        return list(rows.all())

    async def fail_if_stale(self, message_id: uuid.UUID, cutoff: datetime) -> bool:
        """Mark a reply FAILED (interrupted) if it is still STREAMING and silent since
        ``cutoff``; whether it was."""
        result = await self.session.execute(
            update(ChatMessage)
            .where(
                ChatMessage.id == message_id,
                ChatMessage.status == MessageStatus.STREAMING,
                ChatMessage.updated_at < cutoff,
            )
            .values(status=MessageStatus.FAILED, error_code="INTERRUPTED")
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def touch(self, message_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(ChatMessage).where(ChatMessage.id == message_id).values(updated_at=now)
        )


class ChatFeedbackRepository(Repository[ChatFeedback]):
    model = ChatFeedback

    async def of(self, message_id: uuid.UUID, user_id: uuid.UUID) -> ChatFeedback | None:
        return await self.session.scalar(
            select(ChatFeedback).where(
                ChatFeedback.message_id == message_id, ChatFeedback.user_id == user_id
            )
        )
