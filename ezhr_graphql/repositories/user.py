from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update

from ezhr_graphql.models import Role, User
from ezhr_graphql.models.user import ATTRIBUTE_COLUMNS
from ezhr_graphql.repositories.base import DATETIME, UUID, Keyset, Page, Repository, key

USERS_KEYSET = Keyset(key(User.created_at, DATETIME), key(User.id, UUID))
_USER: Table = User.__table__  # type: ignore[assignment]
# Where erased users' addresses point: a domain that can never receive mail (RFC 2606).
ERASED_DOMAIN = "erased.invalid"
ERASED_NAME = "Erased user"


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email.lower()))

    async def get_by_identity(self, issuer: str, subject: str) -> User | None:
        """The live user signed in as ``subject`` by the provider ``issuer``."""
        return await self.session.scalar(
            select(User).where(User.sso_issuer == issuer, User.sso_subject == subject)
        )

    async def lock(self, user_id: uuid.UUID) -> None:
        """Hold the user's row until the transaction ends (databases with row locks;
        SQLite's single writer already serialises)."""
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    async def first_admin(self) -> User | None:
        return await self.session.scalar(
            select(User).where(User.role == Role.ADMIN).order_by(User.created_at).limit(1)
        )

    async def active_admins(self) -> int:
        """How many live, active administrators there are."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.role == Role.ADMIN, User.deactivated_at.is_(None))
            )
            or 0
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(User)) or 0)

    async def page(self, first: int, after: str | None) -> Page[User]:
        return await USERS_KEYSET.page(self.session, select(User), first, after)

    async def email_of_any(self, user_id: uuid.UUID) -> str | None:
        """The email of the user ``user_id``, deleted or not (``None``: no such row)."""
        return await self.session.scalar(select(_USER.c.email).where(_USER.c.id == user_id))

    async def tombstone(self, user_id: uuid.UUID, now: datetime) -> None:
        """Leave of the user only a row other rows may point at (the agents and
        documents they made): no email, name, password, attributes or identity at the
        provider; deactivated, deleted, and every token they had revoked."""
        cleared: dict[str, Any] = dict.fromkeys((*ATTRIBUTE_COLUMNS, "sso_issuer", "sso_subject"))
        cleared["groups"] = []
        await self.session.execute(
            update(_USER)
            .where(_USER.c.id == user_id)
            .values(
                email=f"erased-{user_id.hex}@{ERASED_DOMAIN}",
                display_name=ERASED_NAME,
                password_hash="",
                deactivated_at=now,
                deleted_at=now,
                updated_at=now,
                token_version=_USER.c.token_version + 1,
                **cleared,
            )
        )
