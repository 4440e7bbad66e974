"""Typed errors returned as members of mutation and query result unions.

Each implements ``UserError { message code }``. Authentication failures are not part
of results: they are top-level errors with ``extensions.code``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError

from ezhr_graphql.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    ForbiddenError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
)


@strawberry.enum(description="Machine-readable kind of a user error.")
class ErrorCode(Enum):
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="The object does not exist.")
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="An argument is malformed or out of range."
    )
    PERMISSION_DENIED = strawberry.enum_value(
        "PERMISSION_DENIED", description="The caller may not perform this action."
    )
    CONFLICT = strawberry.enum_value(
        "CONFLICT", description="The change clashes with existing data."
    )
    INVALID_CREDENTIALS = strawberry.enum_value(
        "INVALID_CREDENTIALS", description="The email or password is wrong."
    )
    LIMIT_EXCEEDED = strawberry.enum_value(
        "LIMIT_EXCEEDED", description="A configured limit would be exceeded."
    )


@strawberry.interface(description="An expected failure the client can act on.")
class UserError:
    message: str = strawberry.field(description="Human-readable explanation.")
    code: ErrorCode = strawberry.field(description="Machine-readable kind of error.")


@strawberry.type(description="The object does not exist or is not visible to the caller.")
class NotFound(UserError):
    pass


@strawberry.type(description="An argument is malformed, too long, or names nothing usable.")
class InvalidInput(UserError):
    field: str = strawberry.field(description="The argument or input field at fault.")


@strawberry.type(description="The caller may see the object but may not do this to it.")
class PermissionDenied(UserError):
    pass


@strawberry.type(description="The change clashes with existing data, e.g. a duplicate name.")
class Conflict(UserError):
    field: str = strawberry.field(
        description="The argument or input field that clashes (`id` when the object "
        "itself is in use, `input` when the clash cannot be narrowed down)."
    )


@strawberry.type(description="A configured limit would be exceeded; try again later.")
class LimitExceeded(UserError):
    limit: str = strawberry.field(
        description="Which limit: `messageLength`, `concurrentReplies`, `runsPerMinute` "
        "(replies started per minute; the message says when to try again) or "
        "`loginAttempts`."
    )


@strawberry.type(description="The email or password is wrong.")
class InvalidCredentials(UserError):
    pass


# Every result union carries these, so any domain error a service raises can be
# returned whatever the operation.
UserErrorType = NotFound | InvalidInput | PermissionDenied | Conflict | LimitExceeded


def is_user_error(value: object) -> bool:
    return isinstance(value, UserError)


def from_domain(exc: DomainError) -> UserErrorType:
    """Map a domain error to its GraphQL type."""
    if isinstance(exc, NotFoundError):
        return NotFound(message=exc.message, code=ErrorCode.NOT_FOUND)
    if isinstance(exc, InvalidInputError):
        return InvalidInput(message=exc.message, code=ErrorCode.INVALID_INPUT, field=exc.field)
    if isinstance(exc, LimitExceededError):
        return LimitExceeded(message=exc.message, code=ErrorCode.LIMIT_EXCEEDED, limit=exc.limit)
    if isinstance(exc, ConflictError):
        return Conflict(message=exc.message, code=ErrorCode.CONFLICT, field=exc.field)
    if isinstance(exc, (PermissionDeniedError, ForbiddenError, AuthenticationError)):
        return PermissionDenied(message=exc.message, code=ErrorCode.PERMISSION_DENIED)
    raise TypeError(f"unmapped domain error {type(exc).__name__}")  # pragma: no cover


UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"


def top_level(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def as_top_level(exc: DomainError) -> GraphQLError:
    """A domain error where no union can carry it (a subscription's stream): a
    top-level error with the code it would have had, and its field if it names one."""
    error = from_domain(exc)
    extensions: dict[str, Any] = {}
    field = getattr(error, "field", None)
    if field is not None:
        extensions["field"] = field
    return top_level(exc.message, error.code.name, **extensions)
