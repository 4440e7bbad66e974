"""Small helpers shared by the API types."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import strawberry

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.services import validation

D = TypeVar("D")


def gid(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def parse_id(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    """Raises:
    InvalidInputError: the ID is malformed.
    """
    return validation.identifier(field, str(value))


def parse_optional_id(value: strawberry.ID | str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)


def input_fields(source: object, target: type[D], **overrides: Any) -> D:
    """Build the service's fields dataclass ``target`` from a GraphQL input whose
    attributes share its names; ``overrides`` replace values that need converting."""
    names = (f.name for f in dataclasses.fields(target))  # type: ignore[arg-type]
    values = {name: getattr(source, name) for name in names if name not in overrides}
    return target(**values, **overrides)


def aware(field: str, value: datetime | None) -> datetime | None:
    """``value`` in UTC.

    Raises:
        InvalidInputError: the time has no time zone (which instant it is is unknown),
            or lies out of the range of times (year 1 at +01:00).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInputError(field, f"{field} must have a time zone (Z or +hh:mm)")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(field, f"{field} is out of range") from exc
