from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import aware, gid, parse_id
from ezhr_graphql.models.audit import AuditAction as AuditActionModel
from ezhr_graphql.models.audit import AuditEvent as AuditEventRow
from ezhr_graphql.services.audit import AuditFilter
from ezhr_graphql.services.privacy.erasure import Erased
from ezhr_graphql.services.privacy.export import ExportFile


@strawberry.enum(name="AuditAction", description="What an audit event records.")
class AuditAction(Enum):
    SIGN_IN = strawberry.enum_value(
        "SIGN_IN", description="Someone signed in (`method`: password or sso)."
    )
    SIGN_IN_FAILED = strawberry.enum_value(
        "SIGN_IN_FAILED",
        description="A sign-in failed (`reason`); the actor is the account it was for, if any.",
    )
    USER_ROLE_CHANGED = strawberry.enum_value(
        "USER_ROLE_CHANGED", description="An administrator changed a user's role."
    )
    USER_ATTRIBUTES_CHANGED = strawberry.enum_value(
        "USER_ATTRIBUTES_CHANGED", description="An administrator set a user's attributes."
    )
    USER_DEACTIVATED = strawberry.enum_value(
        "USER_DEACTIVATED", description="An administrator deactivated a user."
    )
    USER_REACTIVATED = strawberry.enum_value(
        "USER_REACTIVATED", description="An administrator reactivated a user."
    )
    USER_DELETED = strawberry.enum_value(
        "USER_DELETED", description="An administrator deleted a user."
    )
    USER_DATA_EXPORTED = strawberry.enum_value(
        "USER_DATA_EXPORTED", description="A user downloaded what the assistant holds about them."
    )
    USER_ERASED = strawberry.enum_value(
        "USER_ERASED", description="A user's conversations and personal data were erased."
    )
    AGENT_CREATED = strawberry.enum_value("AGENT_CREATED", description="An agent was created.")
    AGENT_CHANGED = strawberry.enum_value(
        "AGENT_CHANGED", description="An agent's settings, starter messages or collections changed."
    )
    AGENT_DELETED = strawberry.enum_value("AGENT_DELETED", description="An agent was deleted.")
    MODEL_CREATED = strawberry.enum_value(
        "MODEL_CREATED", description="An LLM or embedding model was added."
    )
    MODEL_CHANGED = strawberry.enum_value(
        "MODEL_CHANGED", description="An LLM or embedding model was changed."
    )
    MODEL_DELETED = strawberry.enum_value(
        "MODEL_DELETED", description="An LLM or embedding model was deleted."
    )
    COLLECTION_CREATED = strawberry.enum_value(
        "COLLECTION_CREATED", description="A collection was created."
    )
    COLLECTION_CHANGED = strawberry.enum_value(
        "COLLECTION_CHANGED", description="A collection was changed or reindexed."
    )
    COLLECTION_DELETED = strawberry.enum_value(
        "COLLECTION_DELETED", description="A collection was deleted."
    )
    DOCUMENT_UPLOADED = strawberry.enum_value(
        "DOCUMENT_UPLOADED", description="A document was uploaded."
    )
    DOCUMENT_CHANGED = strawberry.enum_value(
        "DOCUMENT_CHANGED", description="A document's metadata changed, or it was reindexed."
    )
    DOCUMENT_DELETED = strawberry.enum_value(
        "DOCUMENT_DELETED", description="A document was deleted."
    )
    APPROVED_ANSWER_CREATED = strawberry.enum_value(
        "APPROVED_ANSWER_CREATED", description="An approved answer was written."
    )
    APPROVED_ANSWER_CHANGED = strawberry.enum_value(
        "APPROVED_ANSWER_CHANGED", description="An approved answer was edited."
    )
    APPROVED_ANSWER_RETIRED = strawberry.enum_value(
        "APPROVED_ANSWER_RETIRED", description="An approved answer was retired."
    )

    def to_model(self) -> AuditActionModel:
        return AuditActionModel[self.name]


@strawberry.type(description="A fact about an audited change; never what anybody wrote.")
class AuditDetail:
    name: str = strawberry.field(description="What the fact is (`method`, `reason`...).")
    value: str = strawberry.field(description="Its value.")


@strawberry.type(
    description="Something that happened: who did it, what, to what, when, from where. "
    "Events are only ever added."
)
class AuditEvent:
    id: strawberry.ID = strawberry.field(description="ID of the event.")
    at: datetime = strawberry.field(description="When it happened.")
    actor_id: strawberry.ID | None = strawberry.field(
        description="The user who did it; null for a failed sign-in naming no account."
    )
    action: AuditAction = strawberry.field(description="What happened.")
    target_type: str | None = strawberry.field(
        description="The kind of object it happened to (User, Agent, Document...)."
    )
    target_id: strawberry.ID | None = strawberry.field(description="That object's ID.")
    address: str | None = strawberry.field(description="The caller's network address.")
    details: list[AuditDetail] = strawberry.field(description="Facts about it.")

    @classmethod
    def from_model(cls, row: AuditEventRow) -> Self:
        return cls(
            id=gid(row.id),
            at=row.created_at,
            actor_id=None if row.actor_id is None else gid(row.actor_id),
            action=AuditAction[row.action.name],
            target_type=row.target_type,
            target_id=None if row.target_id is None else gid(row.target_id),
            address=row.address,
            details=[
                AuditDetail(name=str(k), value=str(v)) for k, v in (row.details or {}).items()
            ],
        )


@strawberry.input(description="Which audit events to list; every field narrows.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Events by this user."
    )
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="Events about this object."
    )
    actions: list[AuditAction] | None = strawberry.field(
        default=None, description="Events of these kinds."
    )
    since: datetime | None = strawberry.field(default=None, description="At or after this.")
    until: datetime | None = strawberry.field(default=None, description="Before this.")

    def to_filter(self) -> AuditFilter:
        """Raises:
        InvalidInputError: an ID is malformed, or a time has no time zone.
        """
        return AuditFilter(
            actor_id=None if self.actor_id is None else parse_id(self.actor_id, "actorId"),
            target_id=None if self.target_id is None else parse_id(self.target_id, "targetId"),
            actions=tuple(dict.fromkeys(action.to_model() for action in self.actions or ())),
            since=aware("since", self.since),
            until=aware("until", self.until),
        )


AuditEventConnectionResult = Annotated[
    Connection[AuditEvent] | UserErrorType,
    strawberry.union("AuditEventConnectionResult", description="A page of audit events."),
]


@strawberry.type(
    description="Everything the assistant holds about the caller, as a JSON file to save: "
    "profile, folders, conversations (deleted ones not yet purged too, with `deletedAt`) "
    "with every message, and the feedback they gave."
)
class DataExport:
    file_name: str = strawberry.field(description="A name to save the file under.")
    content_type: str = strawberry.field(description="The file's media type (JSON).")
    json: str = strawberry.field(description="The file's content.")

    @classmethod
    def of(cls, export: ExportFile) -> Self:
        return cls(file_name=export.file_name, content_type=export.content_type, json=export.json)


@strawberry.type(
    description="A user erased: what was removed for real (counts are all that is left)."
)
class ErasedUser:
    user_id: strawberry.ID = strawberry.field(description="ID of the erased user.")
    sessions: int = strawberry.field(description="Conversations removed.")
    messages: int = strawberry.field(description="Messages removed (questions and replies).")
    feedback: int = strawberry.field(description="Ratings and comments removed.")
    folders: int = strawberry.field(description="Folders removed.")

    @classmethod
    def of(cls, erased: Erased) -> Self:
        removed = erased.removed
        return cls(
            user_id=gid(erased.user_id),
            sessions=removed.sessions,
            messages=removed.messages,
            feedback=removed.feedback,
            folders=removed.folders,
        )


DataExportResult = Annotated[
    DataExport | UserErrorType,
    strawberry.union("DataExportResult", description="The caller's data, or why not."),
]
ErasureResult = Annotated[
    ErasedUser | UserErrorType,
    strawberry.union("ErasureResult", description="What an erasure removed, or why not."),
]
