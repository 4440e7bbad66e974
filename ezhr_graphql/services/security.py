"""Password hashing and signed bearer tokens."""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    # The user's token version when the token was issued (0 for tokens from before
    # versions existed); a token of an older version than the user's is revoked.
    version: int = 0


class InvalidTokenError(Exception):
    """The token is malformed, forged or expired."""


# The time claims a token may carry, and the latest instant they may name
# (9999-12-31T23:59:59Z, the last second a datetime holds).
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_NUMERIC_DATE = 253_402_300_799


def _check_times(claims: dict[str, Any]) -> None:
    """Each time claim present is a JSON number (RFC 7519's NumericDate) from the
    epoch to year 9999: PyJWT also takes numeric strings, and a huge, infinite or NaN
    value would overflow wherever it becomes a datetime.

    Raises:
        InvalidTokenError: a time claim is no such number.
    """
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidTokenError(f"The {name} claim must be a number")
        if not (math.isfinite(value) and 0 <= value <= MAX_NUMERIC_DATE):
            raise InvalidTokenError(f"The {name} claim is out of range")


def _version(claims: dict[str, Any]) -> int:
    """Raises:
    InvalidTokenError: the ``ver`` claim is there but no whole number from 0.
    """
    value = claims.get("ver", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidTokenError("The ver claim must be a whole number")
    return value


def key_id(key: str) -> str:
    """A token's ``kid`` header for ``key``: the first 8 hex digits of its SHA-256,
    enough to pick the key among a few and useless for guessing it."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class TokenIssuer:
    """Issues and checks JWT bearer tokens (HS256 by default) with an expiry.

    Tokens are signed with ``key`` and name it in their ``kid`` header; tokens signed
    with one of ``previous_keys`` (before a rotation) still verify until they expire.
    """

    def __init__(
        self,
        key: str,
        *,
        algorithm: str,
        ttl_seconds: int,
        issuer: str,
        previous_keys: Sequence[str] = (),
    ) -> None:
        self._key = key
        self._kid = key_id(key)
        self._algorithm = algorithm
        self._ttl = timedelta(seconds=ttl_seconds)
        self._issuer = issuer
        # The current key first: tokens without a kid (issued before kids existed)
        # are tried against each in this order.
        self._keys = list(dict.fromkeys([key, *previous_keys]))
        self._by_kid: dict[str, list[str]] = {}
        for known in self._keys:
            self._by_kid.setdefault(key_id(known), []).append(known)

    def issue(
        self, user_id: uuid.UUID, role: Role, now: datetime | None = None, *, version: int = 0
    ) -> tuple[str, datetime]:
        """A token for the user, at their current token ``version``."""
        issued = now or datetime.now(UTC)
        expires = issued + self._ttl
        token = jwt.encode(
            {
                "sub": str(user_id),
                "role": role.value,
                "iss": self._issuer,
                "iat": int(issued.timestamp()),
                "exp": int(expires.timestamp()),
                "ver": version,
            },
            self._key,
            algorithm=self._algorithm,
            headers={"kid": self._kid},
        )
        return token, expires

    def verify(self, token: str) -> TokenClaims:
        """Raises:
        InvalidTokenError: bad signature, unknown key, wrong issuer, expired or
        malformed (time claims that are no numbers or out of range, or a version
        that is no whole number, included).
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid is None:
                candidates = self._keys
            elif isinstance(kid, str) and kid in self._by_kid:
                candidates = self._by_kid[kid]
            else:
                raise InvalidTokenError("Signed with an unknown key")
            claims = self._decode(token, candidates)
            _check_times(claims)
            return TokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims.get("role", Role.MEMBER)),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                version=_version(claims),
            )
        # Whatever a signed token holds, a bad one is refused, never a server error.
        except (jwt.PyJWTError, ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
            raise InvalidTokenError(str(exc)) from exc

    def _decode(self, token: str, keys: Sequence[str]) -> dict[str, Any]:
        """The claims of ``token`` checked with the first of ``keys`` that signed it.

        Raises:
            jwt.PyJWTError: no key's signature matches, or the claims are not valid.
        """
        for i, key in enumerate(keys):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[self._algorithm],
                    issuer=self._issuer,
                    options={"require": ["sub", "exp", "iat", "iss"]},
                )
                return claims
            except jwt.InvalidSignatureError:
                if i == len(keys) - 1:
                    raise
        raise jwt.InvalidSignatureError("No key to check the signature with")
