"""Identity mutations: register, login, and user administration."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import (
    ErrorCode,
    InvalidCredentials,
    LimitExceeded,
    PermissionDenied,
)
from ezhr_graphql.api.graphql.results import DeleteResult, deleted
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.api.graphql.users.types import (
    AuthPayload,
    LoginResult,
    RegisterInput,
    RegisterResult,
    Role,
    SignInCodeResult,
    User,
    UserAttributesInput,
    UserResult,
)
from ezhr_graphql.api.guards.ratelimit import client_address, trusted_proxies
from ezhr_graphql.container import Services
from ezhr_graphql.errors import AuthenticationError, LimitExceededError, PermissionDeniedError
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.services.users import Session

REGISTERED = {"method": "register"}


def _auth(session: Session) -> AuthPayload:
    return AuthPayload(
        token=session.token, expires_at=session.expires_at, user=User.from_model(session.user)
    )


@strawberry.type
class UserMutations:
    @strawberry.mutation(description="Create a member account and sign it in.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterResult:
        async def action(services: Services) -> AuthPayload:
            signed_in = await services.users.register(
                input.email, input.password, input.display_name
            )
            # Registering signs the new account in: recorded as its first sign-in.
            user = signed_in.user
            services.audit.record(user.id, AuditAction.SIGN_IN, ("User", user.id), REGISTERED)
            return _auth(signed_in)

        return await resolve.write(info.context, action)

    @strawberry.mutation(
        description="Exchange email and password for a bearer token. After too many failed "
        "attempts for an email or from an address, sign-in is refused for a while "
        "(LimitExceeded `loginAttempts`). PermissionDenied when password sign-in is "
        "turned off, or the account is deactivated."
    )
    async def login(self, info: Info, email: str, password: str) -> LoginResult:
        ctx = info.context
        # Counted as the rate limits count: behind a trusted proxy, by the caller's
        # own address, not the proxy's (which everyone would share).
        scope = getattr(ctx.request, "scope", None) or {}
        proxies = trusted_proxies(ctx.container.settings.rate_limit.trusted_proxies)
        try:
            signed_in = await ctx.container.sign_in.sign_in(
                email, password, client_address(scope, proxies), ctx.address
            )
        except LimitExceededError as exc:
            return LimitExceeded(
                message=exc.message, code=ErrorCode.LIMIT_EXCEEDED, limit=exc.limit
            )
        except AuthenticationError as exc:
            return InvalidCredentials(message=exc.message, code=ErrorCode.INVALID_CREDENTIALS)
        except PermissionDeniedError as exc:
            return PermissionDenied(message=exc.message, code=ErrorCode.PERMISSION_DENIED)
        return _auth(signed_in)

    @strawberry.mutation(
        description="Exchange the one-time code single sign-on left in the single-page "
        "app's URL (`#code=...`) for a bearer token, as `login` gives it. A code works "
        "once, for a minute: InvalidCredentials after that; PermissionDenied if the "
        "account was deactivated meanwhile."
    )
    async def redeem_sign_in_code(self, info: Info, code: str) -> SignInCodeResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                signed_in = await ctx.container.services(session).users.redeem_sign_in_code(code)
        except AuthenticationError as exc:
            return InvalidCredentials(message=exc.message, code=ErrorCode.INVALID_CREDENTIALS)
        except PermissionDeniedError as exc:
            return PermissionDenied(message=exc.message, code=ErrorCode.PERMISSION_DENIED)
        return _auth(signed_in)

    @strawberry.mutation(description="Change a user's role (admins only, not their own).")
    async def set_user_role(self, info: Info, user_id: strawberry.ID, role: Role) -> UserResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.users.set_role(a, parse_id(user_id, "userId"), role.to_model()),
            User.from_model,
            admin=True,
            audit=AuditAction.USER_ROLE_CHANGED,
            facts=lambda user: {"role": user.role.value},
        )

    @strawberry.mutation(
        description="Deactivate a user (admins only, not themselves): their tokens stop "
        "working at once, open websockets are closed, and they cannot sign in, with a "
        "password or single sign-on, until reactivated."
    )
    async def deactivate_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.users.deactivate(a, parse_id(user_id, "userId")),
            User.from_model,
            admin=True,
            audit=AuditAction.USER_DEACTIVATED,
        )

    @strawberry.mutation(
        description="Let a deactivated user sign in again (admins only); the tokens they "
        "had before stay revoked."
    )
    async def reactivate_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.users.reactivate(a, parse_id(user_id, "userId")),
            User.from_model,
            admin=True,
            audit=AuditAction.USER_REACTIVATED,
        )

    @strawberry.mutation(
        description="Set a user's attributes, all of them at once (admins only; their own "
        "too). They decide which documents answer the user from the next question on. "
        "A malformed value (an unknown country code, a text too long, too many groups) "
        "is InvalidInput naming its field."
    )
    async def set_user_attributes(
        self, info: Info, user_id: strawberry.ID, input: UserAttributesInput
    ) -> UserResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.users.update_attributes(
                a, parse_id(user_id, "userId"), input.to_attributes()
            ),
            User.from_model,
            admin=True,
            audit=AuditAction.USER_ATTRIBUTES_CHANGED,
        )

    @strawberry.mutation(description="Delete a user (admins only, not themselves).")
    async def delete_user(self, info: Info, user_id: strawberry.ID) -> DeleteResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.users.delete(a, parse_id(user_id, "userId")),
            deleted,
            admin=True,
            audit=AuditAction.USER_DELETED,
        )
