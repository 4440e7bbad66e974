"""How every resolver talks to services: one unit of work per call, errors made typed.

A resolver calls one service method on the services of a fresh session and maps what
it returns. A mutation's transaction commits only when that call returns; any domain
error rolls it back and comes back as a union member; work the service registered
for after the commit (a run to start, indexing to queue) happens only then. The
session is never shared with sibling resolvers, which Strawberry runs concurrently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from ezhr_graphql.api.graphql.context import Context
from ezhr_graphql.api.graphql.errors import Conflict, ErrorCode, UserErrorType, from_domain
from ezhr_graphql.container import Services
from ezhr_graphql.errors import DomainError
from ezhr_graphql.models.audit import AuditAction
from ezhr_graphql.services.actor import Actor

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)


async def read(ctx: Context, action: Callable[[Services], Awaitable[T]]) -> T | UserErrorType:
    """``action`` on the services of a read session."""
    try:
        async with ctx.db.read() as session:
            return await action(ctx.container.services(session, address=ctx.address))
    except DomainError as exc:
        return from_domain(exc)


async def write(ctx: Context, action: Callable[[Services], Awaitable[T]]) -> T | UserErrorType:
    """``action`` on the services of a transaction, committed if it returns."""
    try:
        async with ctx.db.transaction() as session:
            result = await action(ctx.container.services(session, address=ctx.address))
    except DomainError as exc:
        return from_domain(exc)
    except IntegrityError as exc:
        # A concurrent request won a uniqueness race the service had checked for.
        # The error's text holds the statement's values (password hashes...): log its
        # kind only.
        logger.info("integrity conflict: %s", type(exc.orig).__name__)
        return Conflict(
            message="The change conflicts with existing data",
            code=ErrorCode.CONFLICT,
            field="input",
        )
    # Later fields of the same operation must not see rows cached before the change.
    ctx.loaders.clear()
    return result


Act = Callable[[Services, Actor], Awaitable[R]]


def _target(row: object) -> tuple[str, uuid.UUID | None]:
    """What a change was made to: the row it returned (an upload's document)."""
    row = getattr(row, "document", row)
    return type(row).__name__, getattr(row, "id", None)


def _as_actor(
    ctx: Context,
    act: Act[R],
    convert: Callable[[R], T],
    admin: bool,
    audit: AuditAction | None = None,
    facts: Callable[[R], dict[str, Any]] | None = None,
) -> Callable[[Services], Awaitable[T]]:
    """``act`` as the signed-in user (an administrator if ``admin``), converted; with
    ``audit``, the audit log records it, and the row ``act`` returned as its target
    (with ``facts`` of it, never content), in the same transaction.

    Raises:
        GraphQLError: ``UNAUTHENTICATED`` or ``FORBIDDEN`` (top-level errors).
    """
    actor = ctx.require_admin() if admin else ctx.require_actor()

    async def action(services: Services) -> T:
        row = await act(services, actor)
        if audit is not None:
            details = None if facts is None else facts(row)
            services.audit.record(actor.id, audit, _target(row), details)
        return convert(row)

    return action


async def query(
    ctx: Context, act: Act[R], convert: Callable[[R], T], *, admin: bool = False
) -> T | UserErrorType:
    """The usual query: ``act`` on the services of a read session, as the signed-in
    user (an administrator if ``admin``), and what it returns converted.

    Raises:
        GraphQLError: ``UNAUTHENTICATED`` or ``FORBIDDEN`` (top-level errors).
    """
    return await read(ctx, _as_actor(ctx, act, convert, admin))


async def change(
    ctx: Context,
    act: Act[R],
    convert: Callable[[R], T],
    *,
    admin: bool = False,
    audit: AuditAction | None = None,
    facts: Callable[[R], dict[str, Any]] | None = None,
) -> T | UserErrorType:
    """The usual mutation: ``act`` on the services of a fresh transaction, as the
    signed-in user (an administrator if ``admin``), and what it returns converted.
    Every administrator's change names its ``audit`` action: the audit log records
    who made it, on what (with ``facts`` of the row it returned), from where, in the
    change's own transaction.

    Raises:
        GraphQLError: ``UNAUTHENTICATED`` or ``FORBIDDEN`` (top-level errors).
    """
    return await write(ctx, _as_actor(ctx, act, convert, admin, audit, facts))
