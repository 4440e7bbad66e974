"""Domain errors: what services raise when a request cannot be honoured.

The API layer turns each into a typed GraphQL error; none of them is ever a 500.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(DomainError):
    """The thing does not exist, was deleted, or is not the caller's to see."""

    def __init__(self, entity: str, identifier: object | None = None) -> None:
        suffix = f" {identifier}" if identifier is not None else ""
        super().__init__(f"{entity}{suffix} not found")
        self.entity = entity


class PermissionDeniedError(DomainError):
    """The caller may see the thing but may not do this to it."""


class ConflictError(DomainError):
    """The change clashes with existing data (e.g. a duplicate name)."""

    def __init__(self, message: str, field: str = "id") -> None:
        super().__init__(message)
        self.field = field


class InvalidInputError(DomainError):
    """An argument is malformed or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AuthenticationError(DomainError):
    """No valid credentials: the request must log in first."""


class ForbiddenError(DomainError):
    """Valid credentials without the role the operation needs."""


class LimitExceededError(DomainError):
    """A configured limit (message length, concurrent replies...) would be exceeded."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
