from __future__ import annotations

import uuid
from dataclasses import dataclass

from ezhr_graphql.errors import ForbiddenError
from ezhr_graphql.models import Role, User


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: every service call is made on behalf of one."""

    id: uuid.UUID
    role: Role
    email: str
    # What a token must match to stand for this user: tokens of an older version,
    # and any token while the account is deactivated, are refused.
    token_version: int = 0
    active: bool = True

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            id=user.id,
            role=user.role,
            email=user.email,
            token_version=user.token_version,
            active=user.active,
        )

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        """Raises:
        ForbiddenError: the actor is not an administrator.
        """
        if not self.is_admin:
            raise ForbiddenError("This operation requires the ADMIN role")
