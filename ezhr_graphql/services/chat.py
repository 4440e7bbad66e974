"""Folders, chat sessions and their messages: each member sees only their own."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import InvalidInputError, NotFoundError
from ezhr_graphql.models import ChatMessage, ChatSession, Folder
from ezhr_graphql.models.types import NAME_LENGTH
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.chat import (
    ChatMessageRepository,
    ChatSessionRepository,
    FolderRepository,
)
from ezhr_graphql.repositories.session_list import (
    Beside,
    Filters,
    ListedSession,
    ListedSessionRepository,
)
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor


class FolderService:
    def __init__(self, session: AsyncSession) -> None:
        self.folders = FolderRepository.from_session(session)
        self.sessions = ChatSessionRepository.from_session(session)

    async def get(self, actor: Actor, id: uuid.UUID) -> Folder:
        """Raises:
        NotFoundError: no such folder among the actor's own.
        """
        folder = await self.folders.get_owned(id, actor.id)
        if folder is None:
            raise NotFoundError("Folder", id)
        return folder

    async def page(self, actor: Actor, first: int, after: str | None) -> Page[Folder]:
        return await self.folders.page_owned(actor.id, first, after)

    async def create(self, actor: Actor, name: str) -> Folder:
        folder = self.folders.add(
            Folder(owner_id=actor.id, name=validation.text("name", name, NAME_LENGTH))
        )
        await self.folders.flush()
        return folder

    async def rename(self, actor: Actor, id: uuid.UUID, name: str) -> Folder:
        folder = await self.get(actor, id)
        folder.name = validation.text("name", name, NAME_LENGTH)
        await self.folders.flush()
        return folder

    async def delete(self, actor: Actor, id: uuid.UUID) -> Folder:
        """Delete a folder; its sessions stay, moved out of it."""
        folder = await self.get(actor, id)
        for session in await self.sessions.in_folder(folder.id):
            session.folder_id = None
        folder.soft_delete()
        await self.folders.flush()
        return folder


class ChatSessionService:
    def __init__(self, session: AsyncSession) -> None:
        self.sessions = ChatSessionRepository.from_session(session)
        self.listed = ListedSessionRepository.from_session(session)
        self.folders = FolderRepository.from_session(session)
        self.agents = AgentRepository.from_session(session)
        self.messages = ChatMessageRepository.from_session(session)

    async def get(self, actor: Actor, id: uuid.UUID) -> ChatSession:
        """Raises:
        NotFoundError: no such session among the actor's own (admins included:
        conversations are private to their owner).
        """
        session = await self.sessions.get_owned(id, actor.id)
        if session is None:
            raise NotFoundError("Chat session", id)
        return session

    async def page(
        self,
        actor: Actor,
        first: int,
        after: str | None,
        *,
        filters: Filters,
        beside: Beside,
    ) -> Page[ListedSession]:
        """A page of the actor's own sessions (admins included: conversations are
        private to their owner), newest first, with what ``beside`` asks for; an agent
        only where the actor may use it.

        Raises:
            InvalidInputError: ``after`` is not a cursor of this list.
        """
        return await self.listed.page(
            actor.id, first, after, filters=filters, beside=beside, admin=actor.is_admin
        )

    async def _folder(self, actor: Actor, folder_id: uuid.UUID | None) -> uuid.UUID | None:
        if folder_id is None:
            return None
        if await self.folders.get_owned(folder_id, actor.id) is None:
            raise InvalidInputError("folderId", "folderId does not name one of your folders")
        return folder_id

    async def create(
        self,
        actor: Actor,
        agent_id: uuid.UUID,
        title: str | None = None,
        folder_id: uuid.UUID | None = None,
    ) -> ChatSession:
        if await self.agents.get_visible(agent_id, actor.id, actor.is_admin) is None:
            raise InvalidInputError("agentId", "agentId does not name an agent you can use")
        session = self.sessions.add(
            ChatSession(
                owner_id=actor.id,
                agent_id=agent_id,
                folder_id=await self._folder(actor, folder_id),
                title=validation.text("title", title or "", NAME_LENGTH, required=False),
            )
        )
        await self.sessions.flush()
        return session

    async def _change(self, actor: Actor, id: uuid.UUID, **values: Any) -> ChatSession:
        session = await self.get(actor, id)
        for name, value in values.items():
            setattr(session, name, value)
        await self.sessions.flush()
        return session

    async def rename(self, actor: Actor, id: uuid.UUID, title: str) -> ChatSession:
        return await self._change(actor, id, title=validation.text("title", title, NAME_LENGTH))

    async def pin(self, actor: Actor, id: uuid.UUID, pinned: bool) -> ChatSession:
        return await self._change(actor, id, pinned=pinned)

    async def move(self, actor: Actor, id: uuid.UUID, folder_id: uuid.UUID | None) -> ChatSession:
        session = await self.get(actor, id)
        session.folder_id = await self._folder(actor, folder_id)
        await self.sessions.flush()
        return session

    async def delete(self, actor: Actor, id: uuid.UUID) -> ChatSession:
        session = await self.get(actor, id)
        session.soft_delete()
        await self.sessions.flush()
        return session

    async def messages_page(
        self, actor: Actor, session_id: uuid.UUID, first: int, after: str | None
    ) -> Page[ChatMessage]:
        session = await self.get(actor, session_id)
        return await self.messages.page_in_session(session.id, first, after)
