from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin
from ezhr_graphql.models.types import EMAIL_LENGTH, enum_type, live_unique, name_type


class Role(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class User(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "user"
    __table_args__ = (live_unique("user", "email"),)

    email: Mapped[str] = mapped_column(Unicode(EMAIL_LENGTH))
    password_hash: Mapped[str] = mapped_column(Unicode(255))
    display_name: Mapped[str] = mapped_column(name_type())
    role: Mapped[Role] = mapped_column(enum_type(Role), default=Role.MEMBER)
