"""Password hashing and signed bearer tokens."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError

from ezhr_graphql.models import Role


class PasswordHasher:
    """Argon2id hashing, run off the event loop (it is deliberately slow)."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost)
        # Checked against when an email is unknown, so that costs what a real check does.
        self.decoy = self._hasher.hash("not a real password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    role: Role
    expires_at: datetime


class InvalidTokenError(Exception):
    """The token is malformed, forged or expired."""


class TokenIssuer:
    """Issues and checks JWT bearer tokens (HS256 by default) with an expiry."""

    def __init__(self, key: str, *, algorithm: str, ttl_seconds: int, issuer: str) -> None:
        self._key = key
        self._algorithm = algorithm
        self._ttl = timedelta(seconds=ttl_seconds)
        self._issuer = issuer

    def issue(
        self, user_id: uuid.UUID, role: Role, now: datetime | None = None
    ) -> tuple[str, datetime]:
        issued = now or datetime.now(UTC)
        expires = issued + self._ttl
        token = jwt.encode(
            {
                "sub": str(user_id),
                "role": role.value,
                "iss": self._issuer,
                "iat": int(issued.timestamp()),
                "exp": int(expires.timestamp()),
            },
            self._key,
            algorithm=self._algorithm,
        )
        return token, expires

    def verify(self, token: str) -> TokenClaims:
        """Raises:
        InvalidTokenError: bad signature, wrong issuer, expired or malformed.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iat", "iss"]},
            )
            return TokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims.get("role", Role.MEMBER)),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise InvalidTokenError(str(exc)) from exc
