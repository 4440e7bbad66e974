"""Small helpers shared by the API types."""

from __future__ import annotations

import uuid

import strawberry

from ezhr_graphql.services import validation


def gid(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def parse_id(value: strawberry.ID | str, field: str = "id") -> uuid.UUID:
    """Raises:
    InvalidInputError: the ID is malformed.
    """
    return validation.identifier(field, str(value))


def parse_optional_id(value: strawberry.ID | str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)
