"""Audiences of knowledge: who a collection or a document is for.

An audience is, per attribute of a user, the values it applies to: one row per value
(``country`` ``VN``, ``employment_type`` ``FULL_TIME``, ``group`` ``hanoi-office``). A
target without rows is for everyone. It admits a user when, for every attribute it
has rows for, the user's value is one of them (for groups: the user is in one of
them); a user without a value for such an attribute is not admitted. A document is
read by those both its own and its collection's audiences admit.

Rows rather than a JSON column, so that every database can decide who is admitted in
the statement that searches (see repositories/audience.py); a document's rows go with
it when it is deleted.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from ezhr_graphql.db.base import Base
from ezhr_graphql.models.types import ATTRIBUTE_LENGTH, enum_type


class AudienceAttribute(StrEnum):
    """The attributes of a user an audience may constrain (User's columns, and
    ``GROUP`` for each of its groups)."""

    COUNTRY = "country"
    OFFICE = "office"
    DEPARTMENT = "department"
    EMPLOYMENT_TYPE = "employment_type"
    GROUP = "group"


class CollectionAudience(Base):
    __tablename__ = "collection_audience"

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collection.id", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[AudienceAttribute] = mapped_column(
        enum_type(AudienceAttribute), primary_key=True
    )
    value: Mapped[str] = mapped_column(Unicode(ATTRIBUTE_LENGTH), primary_key=True)


class DocumentAudience(Base):
    __tablename__ = "document_audience"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[AudienceAttribute] = mapped_column(
        enum_type(AudienceAttribute), primary_key=True
    )
    value: Mapped[str] = mapped_column(Unicode(ATTRIBUTE_LENGTH), primary_key=True)
