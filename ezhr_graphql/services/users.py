"""Accounts: registration, login, and administration of users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from ezhr_graphql.models import Role, User
from ezhr_graphql.models.types import EMAIL_LENGTH, NAME_LENGTH
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.actor_cache import ActorCache
from ezhr_graphql.services.passwords import PasswordPolicy
from ezhr_graphql.services.security import PasswordHasher, TokenIssuer


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    token: str
    expires_at: datetime


class UserService:
    def __init__(
        self,
        session: AsyncSession | None,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        actors: ActorCache,
        passwords: PasswordPolicy | None = None,
    ) -> None:
        self.session = session
        self.actors = actors
        # Without a session only login's hash check is available.
        self.users = UserRepository.from_session(session)  # type: ignore[arg-type]
        self.hasher = hasher
        self.tokens = tokens
        self.passwords = passwords or PasswordPolicy()

    async def register(
        self, email: str, password: str, display_name: str | None = None, role: Role = Role.MEMBER
    ) -> Session:
        """Create an account and log it in.

        Raises:
            InvalidInputError: malformed email, over-long name, or a password the
                policy refuses (see :class:`PasswordPolicy`).
            ConflictError: the email is already registered.
        """
        address = validation.email("email", email)
        name = validation.text("displayName", display_name or address.split("@")[0], NAME_LENGTH)
        secret = self.passwords.check(password, address)
        if await self.users.get_by_email(address) is not None:
            raise ConflictError("This email is already registered", field="email")
        user = self.users.add(
            User(
                email=address,
                display_name=name,
                password_hash=await self.hasher.hash(secret),
                role=role,
            )
        )
        await self.users.flush()
        return self._session(user)

    async def find_login(self, email: str) -> User | None:
        """The live user an email names, for :meth:`login` (read it in a session, then
        verify outside it: hashing is slow and needs no connection)."""
        email = email.strip().lower()
        if "\x00" in email or len(email) > EMAIL_LENGTH:
            return None  # names nobody; PostgreSQL text cannot even hold a NUL
        return await self.users.get_by_email(email)

    async def login(self, user: User | None, password: str) -> Session:
        """Raises:
        AuthenticationError: unknown email or wrong password. Both cost one hash
        check, so response times do not tell which.
        """
        if user is None:
            await self.hasher.verify(self.hasher.decoy, password)
            raise AuthenticationError("Invalid email or password")
        if not await self.hasher.verify(user.password_hash, password):
            raise AuthenticationError("Invalid email or password")
        return self._session(user)

    def _session(self, user: User) -> Session:
        token, expires = self.tokens.issue(user.id, user.role)
        return Session(user=user, token=token, expires_at=expires)

    async def page(self, actor: Actor, first: int, after: str | None) -> Page[User]:
        actor.require_admin()
        return await self.users.page(first, after)

    async def _target(self, actor: Actor, user_id: uuid.UUID) -> User:
        actor.require_admin()
        user = await self.users.get(user_id)
        if user is None:
            raise NotFoundError("User", user_id)
        if user.id == actor.id:
            raise PermissionDeniedError("Administrators cannot change or delete themselves")
        return user

    async def set_role(self, actor: Actor, user_id: uuid.UUID, role: Role) -> User:
        user = await self._target(actor, user_id)
        assert self.session is not None
        self.actors.forget_after_commit(self.session, user.id)
        user.role = role
        await self.users.flush()
        return user

    async def delete(self, actor: Actor, user_id: uuid.UUID) -> User:
        user = await self._target(actor, user_id)
        assert self.session is not None
        self.actors.forget_after_commit(self.session, user.id)
        user.soft_delete()
        await self.users.flush()
        return user
