"""Who is asking: bearer tokens from HTTP headers or the websocket init payload."""

from __future__ import annotations

import uuid
from typing import Any

from ezhr_graphql.container import Container
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.security import InvalidTokenError


class BadCredentials(Exception):
    """A token was presented but is not valid (forged, expired, revoked, or its user
    is gone or deactivated)."""


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadCredentials("Authorization must be 'Bearer <token>'")
    return token.strip()


def token_from_params(params: Any) -> str | None:
    """The token of a websocket ``connection_init`` payload: ``{"token": ...}`` or
    ``{"Authorization": "Bearer ..."}`` as many clients send it."""
    if not isinstance(params, dict):
        return None
    token = params.get("token")
    if isinstance(token, str) and token:
        return token
    header = params.get("Authorization") or params.get("authorization")
    return bearer_token(header) if isinstance(header, str) else None


async def authenticate(container: Container, token: str | None) -> Actor | None:
    """The actor a token stands for, or ``None`` without a token.

    Raises:
        BadCredentials: the token is invalid, expired or revoked (an older token
            version than its user's), or its user no longer exists or is deactivated.
    """
    if token is None:
        return None
    try:
        claims = container.tokens.verify(token)
    except InvalidTokenError as exc:
        raise BadCredentials("Invalid or expired token") from exc
    actor = await container.actors.get(claims.user_id, lambda id: _load_actor(container, id))
    if actor is None:
        raise BadCredentials("Invalid or expired token")
    if not actor.active:
        raise BadCredentials("This account is deactivated")
    if claims.version != actor.token_version:
        raise BadCredentials("This token was revoked; sign in again")
    return actor


async def _load_actor(container: Container, user_id: uuid.UUID) -> Actor | None:
    async with container.db.read() as session:
        user = await UserRepository.from_session(session).get(user_id)
    return None if user is None else Actor.of(user)
