"""The one path every operation takes before it runs, over HTTP or a websocket.

An operation is counted against the request rate limits (over HTTP the middleware
counted the request before its body was read, so the endpoint says so), its document
is found (a plain ``query`` or the persisted query its hash names), and a document
with several operations must name the one to run. Whatever refuses it says why with
a code, and each transport answers that in its own way: HTTP with a request error,
a websocket with an ``error`` message for that operation only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode
from starlette.types import Scope

from ezhr_graphql.api.guards.limits import Parse
from ezhr_graphql.api.guards.persisted import PersistedQueries, PersistedQueryError
from ezhr_graphql.api.guards.ratelimit import client_address, rate_limited_error, trusted_proxies
from ezhr_graphql.container import Container
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.throttle import RateLimitedError


@dataclass
class Refused(Exception):
    """The operation may not run: ``message`` for people, ``code`` for clients, and
    any other ``extensions`` the error carries."""

    message: str
    code: str
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def formatted(self) -> dict[str, Any]:
        """The GraphQL error, as sent."""
        return {"message": self.message, "extensions": {"code": self.code, **self.extensions}}


@dataclass(frozen=True, slots=True)
class Operation:
    """What a transport received: the request's parameters and who sent them."""

    query: object
    extensions: object
    # ``""`` is the spec's "no name", as ``None``.
    operation_name: object
    actor: Actor | None
    # The ASGI scope, for the caller's address.
    scope: Scope | None = None


class Gate:
    def __init__(self, container: Container, persisted: PersistedQueries, parse: Parse) -> None:
        self.container = container
        self.persisted = persisted
        self.parse = parse

    async def admit(self, operation: Operation, *, counted: bool = False) -> str:
        """The document to run; ``counted``: the request rate limits have counted it.

        Raises:
            Refused: over a rate limit (``RATE_LIMITED``), a ``query`` or
                ``operationName`` that is not a string (``BAD_REQUEST``), a persisted
                query refused (its code), or several operations and no name
                (``OPERATION_NAME_REQUIRED``).
        """
        if not counted:
            await self._count(operation)
        query = operation.query
        if query is not None and not isinstance(query, str):
            raise Refused("The `query` parameter must be a string", "BAD_REQUEST")
        if operation.operation_name is not None and not isinstance(operation.operation_name, str):
            raise Refused("The `operationName` parameter must be a string or null", "BAD_REQUEST")
        try:
            document = await self.persisted.resolve(
                query, operation.extensions, signed_in=operation.actor is not None
            )
        except PersistedQueryError as exc:
            raise Refused(exc.message, exc.code) from exc
        if document is None:
            raise Refused("No GraphQL query found in the request", "BAD_REQUEST")
        if not operation.operation_name:
            self._check_single(document)
        return document

    async def _count(self, operation: Operation) -> None:
        """Count the operation as one request of its user from its address; if the
        counter's store fails, the operation goes through (as HTTP requests do)."""
        settings = self.container.settings.rate_limit
        if not settings.enabled or operation.scope is None:
            return
        address = client_address(operation.scope, trusted_proxies(settings.trusted_proxies))
        user_id = None if operation.actor is None else operation.actor.id
        try:
            await self.container.rate_limits.request(user_id, address)
        except RateLimitedError as exc:
            error = rate_limited_error(exc)
            extensions = dict(error["extensions"])
            raise Refused(error["message"], extensions.pop("code"), extensions) from exc
        except Exception:
            self.container.rate_limits.unavailable()

    def _check_single(self, document: str) -> None:
        """Raises:
        Refused: the document has several operations and no name picks one.
        """
        try:
            # The executor parses with the same cache, so this costs one parse in all.
            parsed = self.parse(document)
        except GraphQLError:
            return  # the executor reports the syntax error itself
        operations = sum(isinstance(d, OperationDefinitionNode) for d in parsed.definitions)
        if operations > 1:
            raise Refused(
                "Must provide operation name if query contains multiple operations.",
                "OPERATION_NAME_REQUIRED",
            )
