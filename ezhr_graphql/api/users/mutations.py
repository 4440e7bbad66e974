"""Identity mutations: register, login, and user administration."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.api import resolve
from ezhr_graphql.api.context import Info
from ezhr_graphql.api.errors import ErrorCode, InvalidCredentials, LimitExceeded
from ezhr_graphql.api.ratelimit import client_address, trusted_proxies
from ezhr_graphql.api.results import DeleteResult, deleted
from ezhr_graphql.api.scalars import parse_id
from ezhr_graphql.api.users.types import (
    AuthPayload,
    LoginResult,
    RegisterInput,
    RegisterResult,
    Role,
    User,
    UserResult,
)
from ezhr_graphql.errors import AuthenticationError, LimitExceededError
from ezhr_graphql.services.users import Session


def _auth(session: Session) -> AuthPayload:
    return AuthPayload(
        token=session.token, expires_at=session.expires_at, user=User.from_model(session.user)
    )


@strawberry.type
class UserMutations:
    @strawberry.mutation(description="Create a member account and sign it in.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterResult:
        ctx = info.context

        async def action(session: AsyncSession) -> AuthPayload:
            return _auth(
                await ctx.container.users(session).register(
                    input.email, input.password, input.display_name
                )
            )

        return await resolve.write(ctx, action)

    @strawberry.mutation(
        description="Exchange email and password for a bearer token. After too many failed "
        "attempts for an email or from an address, sign-in is refused for a while "
        "(LimitExceeded `loginAttempts`)."
    )
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        ctx = info.context
        throttle = ctx.container.login_throttle
        # Counted as the rate limits count: behind a trusted proxy, by the caller's
        # own address, not the proxy's (which everyone would share).
        scope = getattr(ctx.request, "scope", None) or {}
        proxies = trusted_proxies(ctx.container.settings.rate_limit.trusted_proxies)
        address = client_address(scope, proxies)
        try:
            await throttle.check(email, address)
        except LimitExceededError as exc:
            return LimitExceeded(
                message=exc.message, code=ErrorCode.LIMIT_EXCEEDED, limit=exc.limit
            )
        async with ctx.db.read() as session:
            user = await ctx.container.users(session).find_login(email)
        try:
            payload = _auth(await ctx.container.users(None).login(user, password))
        except AuthenticationError as exc:
            await throttle.failed(email, address)
            return InvalidCredentials(message=exc.message, code=ErrorCode.INVALID_CREDENTIALS)
        await throttle.succeeded(email)
        return payload

    @strawberry.mutation(description="Change a user's role (admins only, not their own).")
    async def set_user_role(self, info: Info, user_id: strawberry.ID, role: Role) -> UserResult:
        return await resolve.change(
            info.context,
            info.context.container.users,
            lambda s, a: s.set_role(a, parse_id(user_id, "userId"), role.to_model()),
            User.from_model,
            admin=True,
        )

    @strawberry.mutation(description="Delete a user (admins only, not themselves).")
    async def delete_user(self, info: Info, user_id: strawberry.ID) -> DeleteResult:
        return await resolve.change(
            info.context,
            info.context.container.users,
            lambda s, a: s.delete(a, parse_id(user_id, "userId")),
            deleted,
            admin=True,
        )
