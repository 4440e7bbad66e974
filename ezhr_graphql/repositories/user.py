from __future__ import annotations

import uuid

from sqlalchemy import func, select

from ezhr_graphql.models import Role, User
from ezhr_graphql.repositories.base import DATETIME, UUID, Keyset, Page, Repository, key

USERS_KEYSET = Keyset(key(User.created_at, DATETIME), key(User.id, UUID))


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

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(User)) or 0)

    async def page(self, first: int, after: str | None) -> Page[User]:
        return await USERS_KEYSET.page(self.session, select(User), first, after)
