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

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(id=user.id, role=user.role, email=user.email)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        """Raises:
        ForbiddenError: the actor is not an administrator.
        """
        if not self.is_admin:
            raise ForbiddenError("This operation requires the ADMIN role")
