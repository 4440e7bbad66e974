"""Identity queries: the viewer and, for admins, the user list."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.users.types import (
    AuthPayload,
    SignInOptions,
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

    @strawberry.field(description="How people sign in here, for the sign-in page.")
    def sign_in_options(self, info: Info) -> SignInOptions:
        oidc = info.context.container.settings.oidc
        return SignInOptions(
            local_accounts=oidc.password_sign_in, single_sign_on_url=oidc.login_url
        )

    @strawberry.field(description="All users, oldest first (admins only).")
    async def users(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> UserConnectionResult:
        ctx = info.context
        return await resolve.query(
            ctx,
            lambda s, a: s.users.page(a, ctx.page_size(first), after),
            lambda page: Connection[User].of(page, User.from_model),
            admin=True,
        )
