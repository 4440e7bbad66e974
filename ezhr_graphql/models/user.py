from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Unicode, text
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import (
    ATTRIBUTE_LENGTH,
    EMAIL_LENGTH,
    LANGUAGE_LENGTH,
    enum_type,
    live_unique,
    name_type,
)

# OpenID Connect: an issuer is a short https URL; a subject at most 255 ASCII
# characters (OpenID Connect Core, section 2). Together they stay within SQL
# Server's 1700 bytes per index key.
ISSUER_LENGTH = 500
SUBJECT_LENGTH = 255
CODE_HASH_LENGTH = 64


class Role(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


# Live users signed in through single sign-on, one per identity at the provider.
_LIVE_IDENTITY = "deleted_at IS NULL AND sso_subject IS NOT NULL"


class EmploymentType(StrEnum):
    FULL_TIME = "FULL_TIME"
    PART_TIME = "PART_TIME"
    CONTRACTOR = "CONTRACTOR"
    INTERN = "INTERN"


# The columns holding a user's attributes (what audiences are matched with).
ATTRIBUTE_COLUMNS = (
    "country",
    "office",
    "department",
    "employment_type",
    "preferred_language",
    "groups",
)


class User(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "user"
    __table_args__ = (
        live_unique("user", "email"),
        Index(
            "UX__user__sso_issuer_sso_subject",
            "sso_issuer",
            "sso_subject",
            unique=True,
            sqlite_where=text(_LIVE_IDENTITY),
            postgresql_where=text(_LIVE_IDENTITY),
            mssql_where=text(_LIVE_IDENTITY),
        ),
    )

    email: Mapped[str] = mapped_column(Unicode(EMAIL_LENGTH))
    # Empty for accounts made by single sign-on: no password signs them in.
    password_hash: Mapped[str] = mapped_column(Unicode(255))
    display_name: Mapped[str] = mapped_column(name_type())
    role: Mapped[Role] = mapped_column(enum_type(Role), default=Role.MEMBER)
    # What HR policies depend on, and what the audiences of knowledge are matched with
    # (see models/audience.py). Always checked by services/attributes.py (by
    # UserService.set_attributes, and at single sign-on); None is "not known", which no
    # audience constraining that attribute admits.
    country: Mapped[str | None] = mapped_column(Unicode(2), default=None)  # ISO 3166-1 alpha-2
    office: Mapped[str | None] = mapped_column(Unicode(ATTRIBUTE_LENGTH), default=None)
    department: Mapped[str | None] = mapped_column(Unicode(ATTRIBUTE_LENGTH), default=None)
    employment_type: Mapped[EmploymentType | None] = mapped_column(
        enum_type(EmploymentType), default=None
    )
    preferred_language: Mapped[str | None] = mapped_column(
        Unicode(LANGUAGE_LENGTH), default=None
    )  # a BCP 47 tag: "en", "vi", "en-US"
    # Free-form groups (None for rows from before they were kept: no groups).
    groups: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    # Set while an administrator has deactivated the account: its tokens are refused
    # and it cannot sign in.
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    # Tokens carry the version they were issued at; raising it revokes every token
    # issued before.
    token_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Who the user is at the OpenID Connect provider that signs them in, if any.
    sso_issuer: Mapped[str | None] = mapped_column(Unicode(ISSUER_LENGTH), default=None)
    sso_subject: Mapped[str | None] = mapped_column(Unicode(SUBJECT_LENGTH), default=None)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


class SignInCode(TimestampedMixin, SoftDeleteMixin, Base):
    """A one-time code the single-page app exchanges for a token after single sign-on
    (only its SHA-256 is kept); redeeming it soft-deletes it."""

    __tablename__ = "sign_in_code"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(Unicode(CODE_HASH_LENGTH), unique=True)
    expires_at: Mapped[datetime]
