"""Column types shared by the models.

Text is Unicode everywhere (NVARCHAR on SQL Server): the documents and questions are
often not English. Enums are stored as plain strings so that adding a value needs no
database type change on any dialect.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, Index, Unicode, UnicodeText, text
from sqlalchemy.dialects import mssql
from sqlalchemy.types import TypeEngine

NAME_LENGTH = 200
EMAIL_LENGTH = 320
DESCRIPTION_LENGTH = 2000
URL_LENGTH = 2000
# An office, a department or a group, as users and audiences name them.
ATTRIBUTE_LENGTH = 100
# A BCP 47 language tag as people use them ("vi", "en-US", "zh-Hant-TW").
LANGUAGE_LENGTH = 35


def name_type() -> Unicode:
    return Unicode(NAME_LENGTH)


def text_type() -> TypeEngine[str]:
    # NVARCHAR(max) on SQL Server rather than the deprecated NTEXT.
    return UnicodeText().with_variant(mssql.NVARCHAR(), "mssql")


def live_unique(table: str, column: str) -> Index:
    """A unique index over live rows only, so a soft-deleted row frees its value."""
    return Index(
        f"UX__{table}__{column}",
        column,
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
        mssql_where=text("deleted_at IS NULL"),
    )


def enum_type(enum: type[StrEnum], length: int = 32) -> Enum:
    return Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
