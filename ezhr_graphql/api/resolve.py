"""How every resolver talks to services: one session per call, errors made typed.

A mutation's transaction commits only when the service call returns; any domain
error rolls it back and comes back as a union member. The session is never shared
with sibling resolvers, which Strawberry runs concurrently.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.api.context import Context
from ezhr_graphql.api.errors import Conflict, ErrorCode, UserErrorType, from_domain
from ezhr_graphql.errors import DomainError
from ezhr_graphql.services.actor import Actor

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

logger = logging.getLogger(__name__)


async def read(ctx: Context, action: Callable[[AsyncSession], Awaitable[T]]) -> T | UserErrorType:
    try:
        async with ctx.db.read() as session:
            return await action(session)
    except DomainError as exc:
        return from_domain(exc)


async def write(ctx: Context, action: Callable[[AsyncSession], Awaitable[T]]) -> T | UserErrorType:
    try:
        async with ctx.db.transaction() as session:
            result = await action(session)
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


async def change(
    ctx: Context,
    service: Callable[[AsyncSession], S],
    act: Callable[[S, Actor], Awaitable[R]],
    convert: Callable[[R], T],
    *,
    admin: bool = False,
) -> T | UserErrorType:
    """The usual mutation: as the signed-in user (an administrator if ``admin``), run
    ``act`` on a service bound to a fresh transaction and convert what it returns.

    Raises:
        GraphQLError: ``UNAUTHENTICATED`` or ``FORBIDDEN`` (top-level errors).
    """
    actor = ctx.require_admin() if admin else ctx.require_actor()

    async def action(session: AsyncSession) -> T:
        return convert(await act(service(session), actor))

    return await write(ctx, action)
