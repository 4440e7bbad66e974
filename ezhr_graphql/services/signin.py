"""Signing in with an email and a password, throttled per email and per address."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import Database
from ezhr_graphql.errors import AuthenticationError, PermissionDeniedError
from ezhr_graphql.models import User
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.throttle import LoginThrottle
from ezhr_graphql.services.users import PASSWORDS_OFF, Session, UserService


class SignIn:
    def __init__(
        self,
        db: Database,
        users: Callable[[AsyncSession | None], UserService],
        throttle: LoginThrottle,
    ) -> None:
        self.db = db
        self.users = users
        self.throttle = throttle

    async def sign_in(
        self, email: str, password: str, address: str, origin: str | None = None
    ) -> Session:
        """A session for the user ``email`` names, if ``password`` is theirs. The user
        is read in a short session; the password is checked outside it (hashing is
        slow and needs no connection). ``address`` is what the throttle counts by;
        the audit log records the attempt, success or failure, from ``origin``.

        Raises:
            LimitExceededError: ``loginAttempts``: too many failures for this email or
                from this address lately.
            AuthenticationError: unknown email or wrong password (each a failure).
            PermissionDeniedError: password sign-in is turned off (before anything is
                read or counted), or the account is deactivated.
        """
        if not self.users(None).password_sign_in:
            raise PermissionDeniedError(PASSWORDS_OFF)
        await self.throttle.check(email, address)
        async with self.db.read() as session:
            user = await self.users(session).find_login(email)
        try:
            signed_in = await self.users(None).login(user, password)
        except (AuthenticationError, PermissionDeniedError) as exc:
            if isinstance(exc, AuthenticationError):
                await self.throttle.failed(email, address)
            reason = "deactivated" if isinstance(exc, PermissionDeniedError) else "credentials"
            await self._record(user, AuditAction.SIGN_IN_FAILED, origin, reason)
            raise
        await self.throttle.succeeded(email)
        await self._record(user, AuditAction.SIGN_IN, origin)
        return signed_in

    async def _record(
        self, user: User | None, action: AuditAction, origin: str | None, reason: str = ""
    ) -> None:
        """One event in the audit log, in a transaction of its own. A failure for an
        unknown email names nobody (the email itself is not kept)."""
        details = {"method": "password"} | ({"reason": reason} if reason else {})
        target = None if user is None else ("User", user.id)
        async with self.db.transaction() as session:
            actor = None if user is None else user.id
            AuditLog(session, origin).record(actor, action, target, details)
