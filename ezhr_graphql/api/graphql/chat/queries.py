"""Chat queries: a member's own folders, sessions and messages, never anyone else's."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.chat.types import (
    ChatMessage,
    ChatSession,
    ChatSessionConnectionResult,
    ChatSessionFilter,
    ChatSessionResult,
    Folder,
    FolderConnectionResult,
    MessageConnectionResult,
)
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.loaders import prefetched
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id, parse_optional_id
from ezhr_graphql.container import Services


@strawberry.type
class ChatQueries:
    @strawberry.field(description="The viewer's folders, by name.")
    async def folders(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> FolderConnectionResult:
        ctx = info.context
        actor = ctx.require_actor()

        async def action(services: Services) -> Connection[Folder]:
            page = await services.folders.page(actor, ctx.page_size(first), after)
            return Connection[Folder].of(page, Folder.from_model)

        return await resolve.read(ctx, action)

    @strawberry.field(description="The viewer's chat sessions, newest first.")
    async def chat_sessions(
        self,
        info: Info,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        filter: ChatSessionFilter | None = None,
    ) -> ChatSessionConnectionResult:
        ctx = info.context
        actor = ctx.require_actor()
        where = filter or ChatSessionFilter()

        async def action(services: Services) -> Connection[ChatSession]:
            page = await services.chat_sessions.page(
                actor,
                ctx.page_size(first),
                after,
                agent_id=parse_optional_id(where.agent_id, "filter.agentId"),
                folder_id=parse_optional_id(where.folder_id, "filter.folderId"),
                pinned=where.pinned,
            )
            return Connection[ChatSession].of(page, ChatSession.from_model)

        loaders = ctx.loaders
        return await prefetched(
            info,
            await resolve.read(ctx, action),
            {
                "agent": (loaders.agent_by_id, "agent_id"),
                "folder": (loaders.folder_by_id, "folder_id"),
                "lastMessage": (loaders.last_message_by_session_id, "row_id"),
            },
        )

    @strawberry.field(description="One of the viewer's chat sessions.")
    async def chat_session(self, info: Info, id: strawberry.ID) -> ChatSessionResult:
        return await resolve.query(
            info.context, lambda s, a: s.chat_sessions.get(a, parse_id(id)), ChatSession.from_model
        )

    @strawberry.field(description="Messages of one of the viewer's sessions, oldest first.")
    async def chat_messages(
        self,
        info: Info,
        session_id: strawberry.ID,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> MessageConnectionResult:
        ctx = info.context
        actor = ctx.require_actor()

        async def action(services: Services) -> Connection[ChatMessage]:
            page = await services.chat_sessions.messages_page(
                actor, parse_id(session_id, "sessionId"), ctx.page_size(first), after
            )
            return Connection[ChatMessage].of(page, ChatMessage.from_model)

        return await resolve.read(ctx, action)
