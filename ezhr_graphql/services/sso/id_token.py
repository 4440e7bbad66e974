"""Checking an ID token (OpenID Connect Core, section 3.1.3.7) with joserfc and
Authlib's ID token claims: its signature with the provider's published keys, then
issuer, audience (and authorized party), expiry, issue time, nonce and access token
hash. Each refusal says which check failed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from ezhr_graphql.services.sso.errors import SignInError, SignInFailure

# Signatures with the provider's public keys only: never "none", nor a secret shared
# with the client (HS*), which would make the client able to forge tokens.
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

# Which failure a claim that does not hold is.
_CLAIM_FAILURES = {
    "iss": SignInFailure.WRONG_ISSUER,
    "aud": SignInFailure.WRONG_AUDIENCE,
    "azp": SignInFailure.WRONG_AUDIENCE,
    "nonce": SignInFailure.NONCE_MISMATCH,
    "exp": SignInFailure.TOKEN_EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Expected:
    """What the ID token of one sign-in must say."""

    issuer: str
    client_id: str
    nonce: str
    access_token: str | None = None
    # Seconds of clock difference tolerated.
    leeway: int = 60


class UnknownKey(Exception):
    """The token names a key the provider's key set lacks (read the keys again)."""


def signing_algorithms(supported: object) -> list[str]:
    """The algorithms to accept: those the provider says it signs ID tokens with,
    among :data:`PUBLIC_KEY_ALGORITHMS` (RS256 when it says nothing usable)."""
    if not isinstance(supported, list):
        return ["RS256"]
    usable = [alg for alg in supported if alg in PUBLIC_KEY_ALGORITHMS]
    return usable or ["RS256"]


def _decode(id_token: str, keys: KeySet, algorithms: Collection[str]) -> jwt.Token:
    registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
    try:
        return jwt.decode(id_token, keys, registry=registry)
    except InvalidKeyIdError as exc:
        raise UnknownKey(str(exc)) from exc
    except BadSignatureError as exc:
        raise SignInError(
            SignInFailure.BAD_SIGNATURE, "The ID token's signature does not verify"
        ) from exc
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise SignInError(SignInFailure.INVALID_TOKEN, "The ID token is malformed") from exc


def _failure(exc: Exception) -> SignInError:
    if isinstance(exc, ExpiredTokenError):
        return SignInError(SignInFailure.TOKEN_EXPIRED, "The ID token has expired")
    claim = exc.claim if isinstance(exc, ClaimError) else None
    failure = _CLAIM_FAILURES.get(claim or "", SignInFailure.INVALID_TOKEN)
    described = f"the {claim!r} claim" if claim else "a claim"
    return SignInError(failure, f"The ID token is refused: {described} is missing or wrong")


def verify_id_token(
    id_token: str,
    keys: KeySet,
    algorithms: Collection[str],
    expected: Expected,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once every check holds.

    Raises:
        UnknownKey: signed with a key ``keys`` lacks.
        SignInError: ``BAD_SIGNATURE``, ``WRONG_ISSUER``, ``WRONG_AUDIENCE``,
            ``TOKEN_EXPIRED``, ``NONCE_MISMATCH`` or ``INVALID_TOKEN``.
    """
    token = _decode(id_token, keys, algorithms)
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": expected.issuer},
            "aud": {"essential": True, "value": expected.client_id},
        },
        {
            "nonce": expected.nonce,
            "client_id": expected.client_id,
            "access_token": expected.access_token,
        },
    )
    try:
        claims.validate(now=now, leeway=expected.leeway)
    except (JoseError, ValueError, TypeError) as exc:
        raise _failure(exc) from exc
    return dict(claims)
