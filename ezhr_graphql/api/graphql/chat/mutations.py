"""Chat mutations: folders and sessions of the signed-in user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.chat.types import (
    ChatSession,
    ChatSessionResult,
    CreateChatSessionInput,
    Folder,
    FolderResult,
)
from ezhr_graphql.api.graphql.context import Context, Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.results import DeleteResult, deleted
from ezhr_graphql.api.graphql.scalars import parse_id, parse_optional_id
from ezhr_graphql.models import ChatSession as ChatSessionRow
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.chat import ChatSessionService


def _session(
    ctx: Context, act: Callable[[ChatSessionService, Actor], Awaitable[ChatSessionRow]]
) -> Awaitable[ChatSession | UserErrorType]:
    return resolve.change(
        ctx,
        lambda s, a: act(s.chat_sessions, a),
        lambda row: ChatSession.from_model(row, ctx.loaders),
    )


@strawberry.type
class ChatMutations:
    @strawberry.mutation(description="Create a folder.")
    async def create_folder(self, info: Info, name: str) -> FolderResult:
        return await resolve.change(
            info.context, lambda s, a: s.folders.create(a, name), Folder.from_model
        )

    @strawberry.mutation(description="Rename one of the viewer's folders.")
    async def rename_folder(self, info: Info, id: strawberry.ID, name: str) -> FolderResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.folders.rename(a, parse_id(id), name),
            Folder.from_model,
        )

    @strawberry.mutation(description="Delete a folder; its sessions move out of it.")
    async def delete_folder(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await resolve.change(
            info.context, lambda s, a: s.folders.delete(a, parse_id(id)), deleted
        )

    @strawberry.mutation(description="Start a chat session with an agent.")
    async def create_chat_session(
        self, info: Info, input: CreateChatSessionInput
    ) -> ChatSessionResult:
        return await _session(
            info.context,
            lambda s, a: s.create(
                a,
                parse_id(input.agent_id, "agentId"),
                input.title,
                parse_optional_id(input.folder_id, "folderId"),
            ),
        )

    @strawberry.mutation(description="Rename one of the viewer's sessions.")
    async def rename_chat_session(
        self, info: Info, id: strawberry.ID, title: str
    ) -> ChatSessionResult:
        return await _session(info.context, lambda s, a: s.rename(a, parse_id(id), title))

    @strawberry.mutation(description="Pin or unpin one of the viewer's sessions.")
    async def pin_chat_session(
        self, info: Info, id: strawberry.ID, pinned: bool = True
    ) -> ChatSessionResult:
        return await _session(info.context, lambda s, a: s.pin(a, parse_id(id), pinned))

    @strawberry.mutation(description="Move a session into a folder, or out of any (null).")
    async def move_chat_session(
        self, info: Info, id: strawberry.ID, folder_id: strawberry.ID | None = None
    ) -> ChatSessionResult:
        return await _session(
            info.context,
            lambda s, a: s.move(a, parse_id(id), parse_optional_id(folder_id, "folderId")),
        )

    @strawberry.mutation(description="Delete one of the viewer's sessions.")
    async def delete_chat_session(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await resolve.change(
            info.context, lambda s, a: s.chat_sessions.delete(a, parse_id(id)), deleted
        )
