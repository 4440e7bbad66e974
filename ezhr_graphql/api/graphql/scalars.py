"""Small helpers shared by the API types."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, TypeVar

import strawberry

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
