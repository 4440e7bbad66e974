"""Identity queries: the viewer and, for admins, the user list."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.api import resolve
from ezhr_graphql.api.context import Info
from ezhr_graphql.api.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.users.types import (
    AuthPayload,
    User,
    UserConnectionResult,
)
from ezhr_graphql.services.users import Session


def _auth(session: Session) -> AuthPayload:
    return AuthPayload(
        token=session.token, expires_at=session.expires_at, user=User.from_model(session.user)
    )


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user, or null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        actor = info.context.actor
        if actor is None:
            return None
        row = await info.context.loaders.user_by_id.load(actor.id)
        return None if row is None else User.from_model(row)

    @strawberry.field(description="All users, oldest first (admins only).")
    async def users(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> UserConnectionResult:
        ctx = info.context
        actor = ctx.require_admin()

        async def action(session: AsyncSession) -> Connection[User]:
            page = await ctx.container.users(session).page(actor, ctx.page_size(first), after)
            return Connection[User].of(page, User.from_model)

        return await resolve.read(ctx, action)
