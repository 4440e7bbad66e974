"""Chat queries: a member's own folders, sessions and messages, never anyone else's."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.agents.types import AGENT_COMPUTED, Agent
from ezhr_graphql.api.graphql.chat.types import (
    MESSAGE_COMPUTED,
    UNLOADED,
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
from ezhr_graphql.api.graphql.loaders import Loaders, columns_shown, node_selection
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id, parse_optional_id
from ezhr_graphql.container import Services
from ezhr_graphql.repositories.columns import AgentColumns, FolderColumns, MessageColumns
from ezhr_graphql.repositories.session_list import Beside, Filters, ListedSession


def _beside(info: Info) -> Beside:
    """What the query asks for beside each listed session: read in the same statement,
    only the columns of the agent and the message that the query shows."""
    selected = node_selection(info)
    agent, message = selected.get("agent"), selected.get("lastMessage")
    return Beside(
        agent=agent is not None,
        last_message=message is not None,
        folder="folder" in selected,
        agent_columns=columns_shown(agent or set(), AgentColumns._fields, AGENT_COMPUTED),
        message_columns=columns_shown(message or set(), MessageColumns._fields, MESSAGE_COMPUTED),
    )


def _listed(beside: Beside, loaders: Loaders) -> Callable[[ListedSession], ChatSession]:
    """Converts a page's sessions with what was read beside them (an agent shared by
    many sessions is converted once); what was not read is loaded if asked for."""
    agents: dict[uuid.UUID, Agent] = {}

    def agent(row: AgentColumns | None) -> Agent | None:
        if row is None:
            return None
        if row.id not in agents:
            agents[row.id] = Agent.from_model(row)
        return agents[row.id]

    def message(row: MessageColumns | None) -> ChatMessage | None:
        return None if row is None else ChatMessage.from_model(row)

    def folder(row: FolderColumns | None) -> Folder | None:
        return None if row is None else Folder.from_model(row)

    def convert(item: ListedSession) -> ChatSession:
        return ChatSession.from_model(
            item.session,
            loaders,
            agent=agent(item.agent) if beside.agent else UNLOADED,
            last_message=message(item.last_message) if beside.last_message else UNLOADED,
            folder=folder(item.folder) if beside.folder else UNLOADED,
        )

    return convert


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
        beside = _beside(info)

        async def action(services: Services) -> Connection[ChatSession]:
            filters = Filters(
                agent_id=parse_optional_id(where.agent_id, "filter.agentId"),
                folder_id=parse_optional_id(where.folder_id, "filter.folderId"),
                pinned=where.pinned,
            )
            page = await services.chat_sessions.page(
                actor, ctx.page_size(first), after, filters=filters, beside=beside
            )
            return Connection[ChatSession].of(page, _listed(beside, ctx.loaders))

        return await resolve.read(ctx, action)

    @strawberry.field(description="One of the viewer's chat sessions.")
    async def chat_session(self, info: Info, id: strawberry.ID) -> ChatSessionResult:
        ctx = info.context
        return await resolve.query(
            ctx,
            lambda s, a: s.chat_sessions.get(a, parse_id(id)),
            lambda row: ChatSession.from_model(row, ctx.loaders),
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
