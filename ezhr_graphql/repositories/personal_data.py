"""Everything the product holds about one person, read for their export: a statement
per table whatever the amount, soft-deleted rows included (they are still held)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, or_, select

from ezhr_graphql.models import AuditEvent, ChatFeedback, ChatMessage, ChatSession, Folder, User
from ezhr_graphql.models.user import ATTRIBUTE_COLUMNS
from ezhr_graphql.repositories.base import Queries

_USER: Table = User.__table__  # type: ignore[assignment]
_FOLDER: Table = Folder.__table__  # type: ignore[assignment]
_SESSION: Table = ChatSession.__table__  # type: ignore[assignment]
_MESSAGE: Table = ChatMessage.__table__  # type: ignore[assignment]
_FEEDBACK: Table = ChatFeedback.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]

PROFILE = (
    "id",
    "email",
    "display_name",
    "role",
    *ATTRIBUTE_COLUMNS,
    "created_at",
    "deactivated_at",
)
FOLDER = ("id", "name", "created_at", "deleted_at")
SESSION = (
    "id",
    "title",
    "agent_id",
    "folder_id",
    "pinned",
    "created_at",
    "updated_at",
    "deleted_at",
)
MESSAGE = (
    "session_id",
    "id",
    "parent_id",
    "role",
    "content",
    "status",
    "citations",
    "created_at",
    "deleted_at",
)
FEEDBACK = ("message_id", "rating", "comment", "created_at", "updated_at")
ACTIVITY = ("action", "target_type", "target_id", "address", "details", "created_at")

Row = dict[str, Any]


class PersonalDataRepository(Queries):
    async def _rows(self, table: Table, names: tuple[str, ...], *where: Any) -> list[Row]:
        columns = [table.c[name] for name in names]
        stmt = select(*columns).where(*where).order_by(table.c.created_at, table.c.id)
        return [dict(row._mapping) for row in await self.session.execute(stmt)]

    async def profile(self, user_id: uuid.UUID) -> Row | None:
        rows = await self._rows(_USER, PROFILE, _USER.c.id == user_id)
        return rows[0] if rows else None

    async def folders(self, user_id: uuid.UUID) -> list[Row]:
        return await self._rows(_FOLDER, FOLDER, _FOLDER.c.owner_id == user_id)

    async def sessions(self, user_id: uuid.UUID) -> list[Row]:
        return await self._rows(_SESSION, SESSION, _SESSION.c.owner_id == user_id)

    async def messages(self, user_id: uuid.UUID) -> list[Row]:
        """Every message of the user's sessions (their questions and the replies)."""
        owned = select(_SESSION.c.id).where(_SESSION.c.owner_id == user_id)
        return await self._rows(_MESSAGE, MESSAGE, _MESSAGE.c.session_id.in_(owned))

    async def feedback(self, user_id: uuid.UUID) -> list[Row]:
        return await self._rows(_FEEDBACK, FEEDBACK, _FEEDBACK.c.user_id == user_id)

    async def activity(self, user_id: uuid.UUID) -> list[Row]:
        """What the audit log holds of them: what they did (sign-ins, with the address
        they came from, exports, an administrator's changes) and what was done to
        their account (role, attributes, deactivation)."""
        return await self._rows(
            _AUDIT, ACTIVITY, or_(_AUDIT.c.actor_id == user_id, _AUDIT.c.target_id == user_id)
        )
