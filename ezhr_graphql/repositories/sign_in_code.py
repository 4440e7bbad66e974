"""One-time codes of single sign-on, kept as their SHA-256."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete, select, update

from ezhr_graphql.models import SignInCode
from ezhr_graphql.repositories.base import Repository


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "replace")).hexdigest()


class SignInCodeRepository(Repository[SignInCode]):
    model = SignInCode

    def issue(self, user_id: uuid.UUID, code: str, expires_at: datetime) -> SignInCode:
        row = SignInCode(user_id=user_id, code_hash=code_hash(code), expires_at=expires_at)
        return self.add(row)

    async def redeem(self, code: str, now: datetime) -> uuid.UUID | None:
        """The user of the live, unexpired ``code``, which is spent in the same step
        (soft-deleted): of two concurrent redemptions, one gets it."""
        digest = code_hash(code)
        user_id = await self.session.scalar(
            select(SignInCode.user_id).where(
                SignInCode.code_hash == digest, SignInCode.expires_at > now
            )
        )
        if user_id is None:
            return None
        spent = cast(
            CursorResult[tuple[()]],
            await self.session.execute(
                update(SignInCode)
                .where(
                    SignInCode.code_hash == digest,
                    SignInCode.deleted_at.is_(None),
                    SignInCode.expires_at > now,
                )
                .values(deleted_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        return user_id if spent.rowcount == 1 else None

    async def purge(self, before: datetime) -> None:
        """Delete the codes that expired before ``before``, spent or not."""
        await self.session.execute(
            delete(SignInCode)
            .where(SignInCode.expires_at < before)
            .execution_options(synchronize_session=False)
        )
