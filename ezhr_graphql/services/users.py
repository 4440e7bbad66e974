"""Accounts: registration, login, and administration of users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db.base import utcnow
from ezhr_graphql.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from ezhr_graphql.models import Role, User
from ezhr_graphql.models.types import EMAIL_LENGTH, NAME_LENGTH
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.sign_in_code import SignInCodeRepository
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.attributes import Attributes
from ezhr_graphql.services.passwords import PasswordPolicy
from ezhr_graphql.services.security import PasswordHasher, TokenIssuer
from ezhr_graphql.services.user_changes import UserChanges

PASSWORDS_OFF = "Password sign-in is turned off: sign in with single sign-on"
DEACTIVATED = "This account is deactivated; ask an administrator"


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
        changes: UserChanges,
        passwords: PasswordPolicy | None = None,
        *,
        password_sign_in: bool = True,
    ) -> None:
        self.session = session
        self.changes = changes
        self.password_sign_in = password_sign_in
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
            PermissionDeniedError: password sign-in is turned off.
            InvalidInputError: malformed email, over-long name, or a password the
                policy refuses (see :class:`PasswordPolicy`).
            ConflictError: the email is already registered.
        """
        if not self.password_sign_in:
            raise PermissionDeniedError(PASSWORDS_OFF)
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
        """The caller (:class:`~ezhr_graphql.services.signin.SignIn`) has checked that
        password sign-in is on.

        Raises:
        PermissionDeniedError: the password is right but the account is deactivated.
        AuthenticationError: unknown email, wrong password, or an account that has
            no password (single sign-on only). Each costs one hash check, so
            response times do not tell which.
        """
        if user is None or not user.password_hash:
            await self.hasher.verify(self.hasher.decoy, password)
            raise AuthenticationError("Invalid email or password")
        if not await self.hasher.verify(user.password_hash, password):
            raise AuthenticationError("Invalid email or password")
        if not user.active:
            raise PermissionDeniedError(DEACTIVATED)
        return self._session(user)

    async def redeem_sign_in_code(self, code: str) -> Session:
        """The session a one-time code from single sign-on stands for; the code is
        spent.

        Raises:
            AuthenticationError: no such code, or it was used or has expired.
            PermissionDeniedError: the account was deactivated meanwhile.
        """
        codes = SignInCodeRepository.from_session(self.session)  # type: ignore[arg-type]
        # Codes are 43 characters; anything much longer is none of ours.
        user_id = None if len(code) > 200 else await codes.redeem(code, utcnow())
        user = None if user_id is None else await self.users.get(user_id)
        if user is None:
            raise AuthenticationError("This sign-in code is invalid, used or expired")
        if not user.active:
            raise PermissionDeniedError(DEACTIVATED)
        return self._session(user)

    def _session(self, user: User) -> Session:
        token, expires = self.tokens.issue(user.id, user.role, version=user.token_version)
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
        user.role = role
        return await self._changed(user)

    async def set_attributes(self, user_id: uuid.UUID, attributes: Attributes) -> User:
        """A user's attributes (country, office, department, employment type,
        preferred language, groups) checked, then all replaced by ``attributes``
        (``None`` and no groups clear them). What knowledge the user may read follows
        from the next question on. The caller decides who may do this (the API:
        administrators only, see :meth:`update_attributes`); single sign-on checks the
        provider's claims with the same rules, one attribute at a time
        (sso/accounts.py). To change some only, pass
        ``dataclasses.replace(Attributes.of(user), ...)``.

        Raises:
            NotFoundError: no such (live) user.
            InvalidInputError: an attribute is malformed (unknown country code, too
                long, too many groups...), naming it.
        """
        cleaned = attributes.cleaned()
        user = await self.users.get(user_id)
        if user is None:
            raise NotFoundError("User", user_id)
        cleaned.apply(user)
        await self.users.flush()
        return user

    async def update_attributes(
        self, actor: Actor, user_id: uuid.UUID, attributes: Attributes
    ) -> User:
        """An administrator sets a user's attributes (their own included): see
        :meth:`set_attributes`.

        Raises:
            ForbiddenError: the actor is not an administrator.
            NotFoundError, InvalidInputError: see :meth:`set_attributes`.
        """
        actor.require_admin()
        return await self.set_attributes(user_id, attributes)

    async def delete(self, actor: Actor, user_id: uuid.UUID) -> User:
        user = await self._target(actor, user_id)
        user.soft_delete()
        return await self._changed(user)

    async def deactivate(self, actor: Actor, user_id: uuid.UUID) -> User:
        """Deactivate a user: their tokens stop working in every process at once, open
        websockets included, and they cannot sign in until reactivated. Their tokens
        stay revoked after that. Deactivating a deactivated user changes nothing.

        Raises:
            ForbiddenError: the actor is not an administrator.
            NotFoundError: no such user.
            PermissionDeniedError: the actor is the user.
        """
        user = await self._target(actor, user_id)
        if not user.active:
            return user
        user.deactivated_at = utcnow()
        user.token_version += 1
        return await self._changed(user)

    async def reactivate(self, actor: Actor, user_id: uuid.UUID) -> User:
        """Let a deactivated user sign in again (their earlier tokens stay revoked).

        Raises:
            ForbiddenError: the actor is not an administrator.
            NotFoundError: no such user.
            PermissionDeniedError: the actor is the user.
        """
        user = await self._target(actor, user_id)
        if user.active:
            return user
        user.deactivated_at = None
        return await self._changed(user)

    async def _changed(self, user: User) -> User:
        """Store the change and announce it to every process once committed."""
        assert self.session is not None
        self.changes.after_commit(self.session, user.id)
        await self.users.flush()
        return user
