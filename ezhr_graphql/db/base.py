"""Declarative base shared by every model.

Every table gets a UUID primary key and ``created_at``/``updated_at``/``deleted_at``.
Constraint names come from one naming convention so that Alembic produces the same
names on SQLite, PostgreSQL and SQL Server (``FK__agent__user``, ``PK__agent``...).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "pk": "PK__%(table_name)s",
    "fk": "FK__%(table_name)s__%(referred_table_name)s",
    "uq": "UQ__%(table_name)s__%(column_0_N_name)s",
    "ix": "IX__%(table_name)s__%(column_0_N_name)s",
    "ck": "CK__%(table_name)s__%(constraint_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite has no timezone type, so values are normalised to UTC on the way in and
    tagged as UTC on the way out; PostgreSQL and SQL Server store them natively.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class TimestampedMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-100)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SoftDeleteMixin:
    """Rows are never removed; ``deleted_at`` hides them from every ORM query.

    The filter is applied globally by :mod:`ezhr_graphql.db.database`, so a repository
    cannot forget it.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    def soft_delete(self) -> None:
        self.deleted_at = utcnow()
