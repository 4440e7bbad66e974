"""Repository base and keyset (cursor) pagination shared by every list."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

from ezhr_graphql.db.base import Base
from ezhr_graphql.errors import InvalidInputError

M = TypeVar("M", bound=Base)
T = TypeVar("T")


class Queries:
    """Statements run on one session; built ``from_session`` like every repository."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        return cls(session)


class Repository(Queries, Generic[M]):
    """The queries of one model's rows."""

    model: type[M]

    async def get(self, id: uuid.UUID) -> M | None:
        return await self.session.scalar(select(self.model).where(self.model.id == id))  # type: ignore[attr-defined,arg-type]

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, M]:
        if not ids:
            return {}
        rows = await self.session.scalars(select(self.model).where(self.model.id.in_(ids)))  # type: ignore[attr-defined]
        return {row.id: row for row in rows}  # type: ignore[attr-defined]

    def add(self, row: M) -> M:
        self.session.add(row)
        return row

    async def flush(self) -> None:
        await self.session.flush()


@dataclass(frozen=True)
class KeyColumn:
    """One column of a keyset ordering and how to read its value back from a cursor."""

    # A mapped attribute, or a table's column for lists read as plain columns.
    attribute: InstrumentedAttribute[Any] | KeyedColumnElement[Any]
    descending: bool
    parse: Callable[[object], Any]
    name: str


def _text(value: object) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError("cursor value is not a string")
    return value


def _uuid(value: object) -> uuid.UUID:
    return uuid.UUID(_text(value))


def _datetime(value: object) -> datetime:
    parsed = datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError("cursor timestamp has no time zone")
    return parsed


# Cursor value parsers: each accepts only what Keyset.encode writes.
DATETIME = _datetime
UUID = _uuid
STRING = _text


def key(
    attribute: InstrumentedAttribute[Any] | KeyedColumnElement[Any],
    parse: Callable[[object], Any],
    *,
    desc: bool = False,
) -> KeyColumn:
    return KeyColumn(attribute=attribute, descending=desc, parse=parse, name=attribute.key)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool
    has_previous_page: bool
    keyset: Keyset
    # The part of an item holding the keyset's columns, where an item is more than a row.
    row_of: Callable[[T], Any] | None = None

    def cursor(self, item: T) -> str:
        """The opaque position of ``item``; computed on demand, since most clients
        ask for a page's last cursor only."""
        return self.keyset.encode(item if self.row_of is None else self.row_of(item))


class Keyset:
    """Stable cursor pagination: a cursor names the last row seen, not an offset.

    Rows inserted while a client pages never shift or repeat what it sees.
    """

    def __init__(self, *columns: KeyColumn) -> None:
        self.columns = columns

    def encode(self, row: Any) -> str:
        values = []
        for column in self.columns:
            value = getattr(row, column.name)
            values.append(value.isoformat() if isinstance(value, datetime) else str(value))
        raw = json.dumps(values, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str, field: str = "after") -> list[Any]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            values = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(values, list) or len(values) != len(self.columns):
                raise ValueError("cursor has the wrong shape")
            return [col.parse(v) for col, v in zip(self.columns, values, strict=True)]
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInputError(field, "Invalid pagination cursor") from exc

    def order_by(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.order_by(
            *(c.attribute.desc() if c.descending else c.attribute.asc() for c in self.columns)
        )

    def after(self, values: Sequence[Any]) -> Any:
        """Rows strictly after ``values`` in this ordering (expanded row comparison,
        which every dialect supports)."""
        clause: Any = false()
        for i in reversed(range(len(self.columns))):
            column = self.columns[i]
            beyond = (
                column.attribute < values[i] if column.descending else column.attribute > values[i]
            )
            equal_prefix = [self.columns[j].attribute == values[j] for j in range(i)]
            clause = (
                or_(and_(*equal_prefix, beyond), clause) if equal_prefix else or_(beyond, clause)
            )
        return clause

    def statement(self, stmt: Select[Any], first: int, after: str | None) -> Select[Any]:
        """``stmt`` narrowed to the page after ``after``, plus one row to tell whether
        another page follows."""
        if after is not None:
            stmt = stmt.where(self.after(self.decode(after)))
        return self.order_by(stmt).limit(first + 1)

    async def page(
        self, session: AsyncSession, stmt: Select[Any], first: int, after: str | None
    ) -> Page[Any]:
        rows = list((await session.scalars(self.statement(stmt, first, after))).all())
        has_next = len(rows) > first
        rows = rows[:first]
        return Page(
            items=rows,
            has_next_page=has_next,
            has_previous_page=after is not None,
            keyset=self,
        )
