"""A member's export: everything the product holds about them, as one JSON file.

The profile, folders, sessions (deleted ones not yet purged too, with when they were
deleted), every message of those sessions, the feedback they gave, and what the
audit log holds of what they did (sign-ins with their addresses...). Read in a
statement per table, whatever the amount. The audit log records that it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import utcnow
from ezhr_graphql.errors import NotFoundError
from ezhr_graphql.models import AuditAction
from ezhr_graphql.models.user import ATTRIBUTE_COLUMNS
from ezhr_graphql.repositories.personal_data import PersonalDataRepository, Row
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.audit import AuditLog
from ezhr_graphql.services.validation import camel

CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class ExportFile:
    file_name: str
    content_type: str
    json: str


def _keyed(row: Row) -> dict[str, Any]:
    """A row with the API's names for its columns (``displayName``...)."""
    return {camel(name): value for name, value in row.items()}


def document(
    exported_at: datetime,
    profile: Row,
    folders: list[Row],
    sessions: list[Row],
    messages: list[Row],
    feedback: list[Row],
    activity: list[Row],
) -> dict[str, Any]:
    """The export's content: each session holds its messages, oldest first."""
    by_session: dict[Any, list[dict[str, Any]]] = {row["id"]: [] for row in sessions}
    for message in messages:
        by_session[message["session_id"]].append(
            {k: v for k, v in _keyed(message).items() if k != "sessionId"}
        )
    profile = dict(profile)
    attributes = {camel(name): profile.pop(name) for name in ATTRIBUTE_COLUMNS}
    return {
        "exportedAt": exported_at,
        "profile": {**_keyed(profile), "attributes": attributes},
        "folders": [_keyed(row) for row in folders],
        "sessions": [{**_keyed(row), "messages": by_session[row["id"]]} for row in sessions],
        "feedback": [_keyed(row) for row in feedback],
        "activity": [_keyed(row) for row in activity],
    }


class DataExport:
    def __init__(self, session: AsyncSession, audit: AuditLog) -> None:
        self.rows = PersonalDataRepository.from_session(session)
        self.audit = audit

    async def export(self, actor: Actor) -> ExportFile:
        """Everything held about the actor, for them alone.

        Raises:
            NotFoundError: the actor's account is gone.
        """
        profile = await self.rows.profile(actor.id)
        if profile is None:
            raise NotFoundError("User", actor.id)
        now = utcnow()
        content = document(
            now,
            profile,
            await self.rows.folders(actor.id),
            await self.rows.sessions(actor.id),
            await self.rows.messages(actor.id),
            await self.rows.feedback(actor.id),
            await self.rows.activity(actor.id),
        )
        self.audit.record(actor.id, AuditAction.USER_DATA_EXPORTED, ("User", actor.id))
        return ExportFile(
            file_name=f"ezhr-export-{now:%Y%m%d-%H%M%S}.json",
            content_type=CONTENT_TYPE,
            # default: drivers' own UUID types (asyncpg's) are written as text too.
            json=orjson.dumps(content, default=str, option=orjson.OPT_INDENT_2).decode(),
        )
