"""Audiences of collections and documents, and who they admit, decided in SQL.

:func:`admits` is the one place the rule of models/audience.py is written: a statement
that lists documents, searches their chunks by keyword or counts what a user may read
puts it in its WHERE clause, so the database applies it before any LIMIT.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, case, delete, false, insert, or_, select
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from ezhr_graphql.models import (
    ApprovedAnswer,
    ApprovedAnswerAudience,
    AudienceAttribute,
    CollectionAudience,
    Document,
    DocumentAudience,
)
from ezhr_graphql.repositories.base import Queries

# What a reader holds of each attribute (several groups; one value of the others).
Reader = Mapping[AudienceAttribute, Collection[str]]
AudienceRows = Mapping[AudienceAttribute, Sequence[str]]
AudienceTable = type[CollectionAudience] | type[DocumentAudience] | type[ApprovedAnswerAudience]
# The column of each audience table naming what the audience is of.
_OWNER: dict[type[Any], str] = {
    CollectionAudience: "collection_id",
    DocumentAudience: "document_id",
    ApprovedAnswerAudience: "approved_answer_id",
}


def _admitted_by(
    target: AudienceTable, key: SQLColumnExpression[uuid.UUID], reader: Reader
) -> ColumnElement[bool]:
    """No attribute the target's audience constrains leaves the reader out: there is
    no row of it (attribute, value) for whose attribute no row holds the reader's."""
    owner = _OWNER[target]
    rule = target.__table__.alias()
    held = target.__table__.alias()
    holds = [
        and_(held.c.attribute == attribute, held.c.value.in_(sorted(values)))
        for attribute, values in reader.items()
        if values
    ]
    matched = (
        select(held.c.attribute)
        .where(held.c[owner] == rule.c[owner], held.c.attribute == rule.c.attribute)
        .where(or_(*holds) if holds else false())
        .exists()
    )
    return ~select(rule.c[owner]).where(rule.c[owner] == key, ~matched).exists()


def admits(reader: Reader) -> ColumnElement[bool]:
    """Whether the audiences of a ``document`` row and of its collection both admit
    ``reader`` (a clause of a statement selecting from ``document``)."""
    return and_(
        _admitted_by(DocumentAudience, Document.id, reader),
        _admitted_by(CollectionAudience, Document.collection_id, reader),
    )


def collection_admits(
    collection_id: SQLColumnExpression[uuid.UUID], reader: Reader
) -> ColumnElement[bool]:
    """Whether the audience of the collection ``collection_id`` names admits ``reader``."""
    return _admitted_by(CollectionAudience, collection_id, reader)


def approved_answer_admits(reader: Reader) -> ColumnElement[bool]:
    """Whether the audience of an ``approved_answer`` row admits ``reader``."""
    return _admitted_by(ApprovedAnswerAudience, ApprovedAnswer.id, reader)


class Readable(NamedTuple):
    """A document of some collections, and whether a reader may read it (a tuple: a
    question reads one per document)."""

    document_id: uuid.UUID
    collection_id: uuid.UUID
    outdated: bool
    admitted: bool


class AudienceRepository(Queries):
    async def documents_of(
        self, collection_ids: Sequence[uuid.UUID], reader: Reader
    ) -> list[Readable]:
        """Every document of the collections, and whether ``reader`` may read it: one
        statement, for one question."""
        if not collection_ids:
            return []
        # A CASE, not the bare condition: SQL Server selects no boolean expressions.
        admitted = case((admits(reader), 1), else_=0).label("admitted")
        rows = await self.session.execute(
            select(Document.id, Document.collection_id, Document.outdated, admitted).where(
                Document.collection_id.in_(list(collection_ids))
            )
        )
        return [Readable(d, c, outdated, ok == 1) for d, c, outdated, ok in rows]

    async def of_documents(
        self, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[AudienceAttribute, list[str]]]:
        """The audience of each document (values by attribute; none: everyone)."""
        table = DocumentAudience.__table__
        return await self._of(table.c.document_id, table.c.attribute, table.c.value, ids)

    async def of_collections(
        self, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[AudienceAttribute, list[str]]]:
        """The audience of each collection (values by attribute; none: everyone)."""
        table = CollectionAudience.__table__
        return await self._of(table.c.collection_id, table.c.attribute, table.c.value, ids)

    async def of_approved_answers(
        self, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[AudienceAttribute, list[str]]]:
        """The audience of each approved answer (values by attribute; none: everyone)."""
        table = ApprovedAnswerAudience.__table__
        return await self._of(table.c.approved_answer_id, table.c.attribute, table.c.value, ids)

    async def _of(
        self,
        owner: ColumnElement[uuid.UUID],
        attribute: ColumnElement[str],
        value: ColumnElement[str],
        ids: Sequence[uuid.UUID],
    ) -> dict[uuid.UUID, dict[AudienceAttribute, list[str]]]:
        found: dict[uuid.UUID, dict[AudienceAttribute, list[str]]] = {id: {} for id in ids}
        if not ids:
            return found
        rows = await self.session.execute(
            select(owner, attribute, value)
            .where(owner.in_(list(ids)))
            .order_by(owner, attribute, value)
        )
        for id, name, text in rows:
            found[id].setdefault(AudienceAttribute(name), []).append(text)
        return found

    async def set_document(self, document_id: uuid.UUID, audience: AudienceRows) -> None:
        """Replace the document's audience."""
        await self.session.execute(
            delete(DocumentAudience).where(DocumentAudience.document_id == document_id)
        )
        await self._insert(DocumentAudience, {"document_id": document_id}, audience)

    async def set_collection(self, collection_id: uuid.UUID, audience: AudienceRows) -> None:
        """Replace the collection's audience."""
        await self.session.execute(
            delete(CollectionAudience).where(CollectionAudience.collection_id == collection_id)
        )
        await self._insert(CollectionAudience, {"collection_id": collection_id}, audience)

    async def set_approved_answer(self, answer_id: uuid.UUID, audience: AudienceRows) -> None:
        """Replace the approved answer's audience."""
        await self.session.execute(
            delete(ApprovedAnswerAudience).where(
                ApprovedAnswerAudience.approved_answer_id == answer_id
            )
        )
        await self._insert(ApprovedAnswerAudience, {"approved_answer_id": answer_id}, audience)

    async def _insert(
        self, target: AudienceTable, owner: dict[str, Any], audience: AudienceRows
    ) -> None:
        rows = [
            {**owner, "attribute": attribute, "value": value}
            for attribute, values in audience.items()
            for value in values
        ]
        if rows:
            await self.session.execute(insert(target), rows)
