from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from ezhr_graphql.models import (
    Agent,
    Collection,
    Document,
    DocumentAudience,
    DocumentChunk,
    DocumentContent,
    DocumentStatus,
    Visibility,
    agent_collection,
)
from ezhr_graphql.repositories.ai_model import NamedRepository
from ezhr_graphql.repositories.audience import Reader, admits, collection_admits
from ezhr_graphql.repositories.base import (
    DATETIME,
    STRING,
    UUID,
    Keyset,
    Page,
    Repository,
    key,
)


def _answered_from(
    user_id: uuid.UUID, collection_id: SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool]:
    """Whether a live agent the user may use (public, or theirs) answers from the
    collection: the only collections a member may read documents of."""
    return (
        select(agent_collection.c.collection_id)
        .join(Agent, Agent.id == agent_collection.c.agent_id)
        .where(
            agent_collection.c.collection_id == collection_id,
            Agent.deleted_at.is_(None),
            or_(Agent.visibility == Visibility.PUBLIC, Agent.owner_id == user_id),
        )
        .exists()
    )


def _readable_by(user_id: uuid.UUID, reader: Reader) -> list[ColumnElement[bool]]:
    """The documents a member may read: of a collection an agent they may use answers
    from, whose audiences (its own and its collection's) admit them."""
    return [_answered_from(user_id, Document.collection_id), admits(reader)]


class CollectionRepository(NamedRepository[Collection]):
    model = Collection
    keyset = Keyset(key(Collection.name, STRING), key(Collection.id, UUID))

    async def lock(self, id: uuid.UUID) -> Collection | None:
        return await self.session.scalar(
            select(Collection).where(Collection.id == id).with_for_update()
        )

    async def readable(self, id: uuid.UUID, user_id: uuid.UUID, reader: Reader) -> bool:
        """Whether a member may read documents of the collection: an agent they may use
        answers from it, and its audience admits them."""
        found = await self.session.scalar(
            select(Collection.id).where(
                Collection.id == id,
                _answered_from(user_id, Collection.id),
                collection_admits(Collection.id, reader),
            )
        )
        return found is not None

    async def of_agent(self, agent_id: uuid.UUID) -> list[Collection]:
        rows = await self.session.scalars(
            select(Collection)
            .join(agent_collection, agent_collection.c.collection_id == Collection.id)
            .where(agent_collection.c.agent_id == agent_id)
            .order_by(Collection.name)
        )
        return list(rows)

    async def of_agents(self, agent_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Collection]]:
        found: dict[uuid.UUID, list[Collection]] = {id: [] for id in agent_ids}
        if not agent_ids:
            return found
        rows = await self.session.execute(
            select(agent_collection.c.agent_id, Collection)
            .join(Collection, agent_collection.c.collection_id == Collection.id)
            .where(agent_collection.c.agent_id.in_(agent_ids))
            .order_by(Collection.name)
        )
        for agent_id, collection in rows:
            found[agent_id].append(collection)
        return found

    async def agents_of(self, collection_id: uuid.UUID) -> list[Agent]:
        rows = await self.session.scalars(
            select(Agent)
            .join(agent_collection, agent_collection.c.agent_id == Agent.id)
            .where(agent_collection.c.collection_id == collection_id)
        )
        return list(rows)

    async def set_for_agent(self, agent_id: uuid.UUID, collection_ids: Sequence[uuid.UUID]) -> None:
        await self.session.execute(
            delete(agent_collection).where(agent_collection.c.agent_id == agent_id)
        )
        if collection_ids:
            await self.session.execute(
                insert(agent_collection),
                [{"agent_id": agent_id, "collection_id": c} for c in dict.fromkeys(collection_ids)],
            )

    async def detach_everywhere(self, collection_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(agent_collection).where(agent_collection.c.collection_id == collection_id)
        )

    async def uses_model(self, embedding_model_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(Collection.id)
            .where(
                or_(
                    Collection.embedding_model_id == embedding_model_id,
                    Collection.pending_embedding_model_id == embedding_model_id,
                )
            )
            .limit(1)
        )
        return found is not None

    async def all_reembedding(self) -> list[Collection]:
        rows = await self.session.scalars(
            select(Collection).where(Collection.pending_embedding_model_id.is_not(None))
        )
        return list(rows)

    async def bump(self, collection_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Collection)
            .where(Collection.id == collection_id)
            .values(index_version=Collection.index_version + 1)
            .execution_options(synchronize_session=False)
        )


class DocumentRepository(Repository[Document]):
    model = Document
    keyset = Keyset(
        key(Document.created_at, DATETIME, desc=True), key(Document.id, UUID, desc=True)
    )

    async def page_in(
        self,
        collection_id: uuid.UUID,
        first: int,
        after: str | None,
        status: DocumentStatus | None = None,
        readable_by: tuple[uuid.UUID, Reader] | None = None,
    ) -> Page[Document]:
        """A page of the collection's documents; with ``readable_by`` (a member and
        what they hold), of those they may read only."""
        stmt = select(Document).where(Document.collection_id == collection_id)
        if status is not None:
            stmt = stmt.where(Document.status == status)
        if readable_by is not None:
            stmt = stmt.where(*_readable_by(*readable_by))
        return await self.keyset.page(self.session, stmt, first, after)

    async def get_readable(
        self, id: uuid.UUID, user_id: uuid.UUID, reader: Reader
    ) -> Document | None:
        """The document, if the member may read it (see :func:`_readable_by`)."""
        return await self.session.scalar(
            select(Document).where(Document.id == id, *_readable_by(user_id, reader))
        )

    async def by_hash(self, collection_id: uuid.UUID, content_hash: str) -> Document | None:
        return await self.session.scalar(
            select(Document).where(
                Document.collection_id == collection_id, Document.content_hash == content_hash
            )
        )

    async def in_collection(self, collection_id: uuid.UUID) -> list[Document]:
        rows = await self.session.scalars(
            select(Document).where(Document.collection_id == collection_id).order_by(Document.id)
        )
        return list(rows)

    async def counts(self, collection_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not collection_ids:
            return {}
        rows = await self.session.execute(
            select(Document.collection_id, func.count())
            .where(Document.collection_id.in_(collection_ids))
            .group_by(Document.collection_id)
        )
        found = {id: 0 for id in collection_ids}
        found.update({c: int(n) for c, n in rows})
        return found

    async def content(self, document_id: uuid.UUID) -> bytes | None:
        return await self.session.scalar(
            select(DocumentContent.data).where(DocumentContent.document_id == document_id)
        )

    async def delete_with_content(self, document_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(DocumentContent).where(DocumentContent.document_id == document_id)
        )
        await self.session.execute(
            delete(DocumentAudience).where(DocumentAudience.document_id == document_id)
        )
        await self.session.execute(
            delete(Document)
            .where(Document.id == document_id)
            .execution_options(synchronize_session=False)
        )

    async def unfinished(self) -> list[Document]:
        rows = await self.session.scalars(
            select(Document).where(
                Document.status.in_(
                    [DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.EMBEDDING]
                )
            )
        )
        return list(rows)


class ChunkRepository(Repository[DocumentChunk]):
    model = DocumentChunk

    async def of_document(self, document_id: uuid.UUID) -> list[DocumentChunk]:
        rows = await self.session.scalars(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == document_id)
            .order_by(DocumentChunk.ordinal)
        )
        return list(rows)

    async def ids_of_document(self, document_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(DocumentChunk.id).where(DocumentChunk.document_id == document_id)
        )
        return list(rows)

    async def insert_many(self, rows: list[dict[str, object]], batch: int = 500) -> None:
        for start in range(0, len(rows), batch):
            await self.session.execute(insert(DocumentChunk), rows[start : start + batch])
            await asyncio.sleep(0)  # a long document must not hold the loop

    async def delete_of_document(self, document_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(DocumentChunk).where(DocumentChunk.document_id == document_id)
        )
