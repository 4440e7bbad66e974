"""Per-request context: who is asking, the database, the services, the loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry

from ezhr_graphql.api.graphql.errors import FORBIDDEN, UNAUTHENTICATED, top_level
from ezhr_graphql.api.guards.auth import BadCredentials, authenticate
from ezhr_graphql.api.guards.ratelimit import client_host, trusted_proxies
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor

if TYPE_CHECKING:
    from ezhr_graphql.api.graphql.loaders import Loaders
    from ezhr_graphql.container import Container
    from ezhr_graphql.db import Database


@dataclass
class Context:
    container: Container
    loaders: Loaders
    actor: Actor | None = None
    # Why a presented token was refused; anonymous fields still work, the rest say so.
    credentials_error: str | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    # True on websockets, where one context serves every operation of a connection.
    long_lived: bool = False
    # The bearer token a websocket connection presented, checked again per operation.
    token: str | None = None
    # Closes the websocket when its token expires.
    expiry: Any = None
    # Closes the websocket when its user's tokens stop working (deactivated...).
    watch: Any = None

    @property
    def db(self) -> Database:
        return self.container.db

    @property
    def address(self) -> str | None:
        """The caller's address (behind a trusted proxy, the forwarded one), for the
        audit log."""
        scope = getattr(self.request, "scope", None)
        if not scope:
            return None
        return client_host(
            scope, trusted_proxies(self.container.settings.rate_limit.trusted_proxies)
        )

    def require_actor(self) -> Actor:
        """The signed-in user.

        Raises:
            GraphQLError: ``UNAUTHENTICATED`` when nobody is signed in.
        """
        if self.actor is None:
            raise top_level(self.credentials_error or "Authentication required", UNAUTHENTICATED)
        return self.actor

    def require_admin(self) -> Actor:
        """Raises:
        GraphQLError: ``UNAUTHENTICATED`` or ``FORBIDDEN``.
        """
        actor = self.require_actor()
        if not actor.is_admin:
            raise top_level("This operation requires the ADMIN role", FORBIDDEN)
        return actor

    async def reauthenticate(self) -> tuple[Actor | None, str | None]:
        """The actor the connection's token stands for now, or why it no longer does."""
        try:
            return await authenticate(self.container, self.token), None
        except BadCredentials as exc:
            return None, str(exc)

    def page_size(self, first: int) -> int:
        """Raises:
        InvalidInputError: ``first`` is negative or above the configured maximum.
        """
        return validation.page_size("first", first, self.container.settings.graphql.max_page_size)


Info = strawberry.Info[Context, None]
