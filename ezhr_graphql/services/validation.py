"""Input checks shared by services; each failure names the offending field."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models.types import DESCRIPTION_LENGTH, NAME_LENGTH


def text(field: str, value: str, max_length: int, *, required: bool = True) -> str:
    """Trimmed text of at most ``max_length`` characters.

    Raises:
        InvalidInputError: empty when required, too long, or containing NUL.
    """
    value = value.strip()
    if required and not value:
        raise InvalidInputError(field, f"{field} must not be empty")
    if len(value) > max_length:
        raise InvalidInputError(field, f"{field} must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidInputError(field, f"{field} must not contain NUL characters")
    return value


def integer(field: str, value: int, minimum: int, maximum: int) -> int:
    if not minimum <= value <= maximum:
        raise InvalidInputError(field, f"{field} must be between {minimum} and {maximum}")
    return value


def number(field: str, value: float, minimum: float, maximum: float) -> float:
    if not minimum <= value <= maximum:
        raise InvalidInputError(field, f"{field} must be between {minimum} and {maximum}")
    return value


def email(field: str, value: str) -> str:
    try:
        normalized = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInputError(field, f"{field} is not a valid email address") from exc
    return normalized.lower()


def identifier(field: str, value: str) -> uuid.UUID:
    """Parse an ID argument.

    Raises:
        InvalidInputError: the value is not a UUID.
    """
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidInputError(field, f"{field} is not a valid ID") from exc


def page_size(field: str, value: int, maximum: int) -> int:
    return integer(field, value, 0, maximum)


def camel(name: str) -> str:
    """The API spelling of a model attribute (``model_name`` -> ``modelName``)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Cleaner = Callable[[Any], Any]


def clean(source: object, cleaners: Mapping[str, Cleaner]) -> dict[str, Any]:
    """The attributes of ``source`` that are not ``None``, each passed through its
    cleaner (``None`` means "leave unchanged" in partial updates).

    Raises:
        InvalidInputError: from the first cleaner that rejects its value.
    """
    values = {}
    for name, cleaner in cleaners.items():
        value = getattr(source, name)
        if value is not None:
            values[name] = cleaner(value)
    return values


def texts(field: str, max_length: int, *, required: bool = True) -> Cleaner:
    return lambda value: text(field, value, max_length, required=required)


def integers(field: str, minimum: int, maximum: int) -> Cleaner:
    return lambda value: integer(field, value, minimum, maximum)


def numbers(field: str, minimum: float, maximum: float) -> Cleaner:
    return lambda value: number(field, value, minimum, maximum)


def unchanged(value: Any) -> Any:
    return value


NAME = texts("name", NAME_LENGTH)
DESCRIPTION = texts("description", DESCRIPTION_LENGTH, required=False)
MODEL_NAME = texts("modelName", NAME_LENGTH)
