"""Signing in with an email and a password, throttled per email and per address."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import Database
from ezhr_graphql.errors import AuthenticationError, PermissionDeniedError
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

    async def sign_in(self, email: str, password: str, address: str) -> Session:
        """A session for the user ``email`` names, if ``password`` is theirs. The user
        is read in a short session; the password is checked outside it (hashing is
        slow and needs no connection).

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
        except AuthenticationError:
            await self.throttle.failed(email, address)
            raise
        await self.throttle.succeeded(email)
        return signed_in
