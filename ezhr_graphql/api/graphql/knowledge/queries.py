"""Collections (administrators), and documents: every one for administrators, those a
member may read for members (anything else is NotFound, as if it did not exist)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.knowledge.types import (
    Collection,
    CollectionConnectionResult,
    CollectionResult,
    Document,
    DocumentConnectionResult,
    DocumentResult,
    DocumentStatus,
)
from ezhr_graphql.api.graphql.pagination import DEFAULT_PAGE_SIZE, Connection
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.models import DocumentStatus as DocumentStatusModel
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.knowledge import KnowledgeService

T = TypeVar("T")


def read_knowledge(
    info: Info, act: Callable[[KnowledgeService, Actor], Awaitable[T]], *, admin: bool = True
) -> Awaitable[T | UserErrorType]:
    """``act`` on the knowledge, as an administrator (or any signed-in user, who sees
    what the service lets them)."""
    return resolve.query(info.context, lambda s, a: act(s.knowledge, a), _same, admin=admin)


def _same(value: T) -> T:
    return value


@strawberry.type
class KnowledgeQueries:
    @strawberry.field(description="Document collections, by name (admins only).")
    async def collections(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> CollectionConnectionResult:
        async def act(service: KnowledgeService, actor: Actor) -> Connection[Collection]:
            # Inside the action, so an out-of-range `first` is a typed InvalidInput.
            size = info.context.page_size(first)
            page = await service.collection_page(actor, size, after)
            return Connection[Collection].of(page, Collection.from_model)

        return await read_knowledge(info, act)

    @strawberry.field(description="One collection (admins only).")
    async def collection(self, info: Info, id: strawberry.ID) -> CollectionResult:
        async def act(service: KnowledgeService, actor: Actor) -> Collection:
            return Collection.from_model(await service.collection(actor, parse_id(id)))

        return await read_knowledge(info, act)

    @strawberry.field(
        description="Documents of a collection, newest first. Administrators see every one; "
        "a member, the collection's documents whose audiences admit them, of a collection "
        "an agent they may use answers from (else NotFound)."
    )
    async def documents(
        self,
        info: Info,
        collection_id: strawberry.ID,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        status: DocumentStatus | None = None,
    ) -> DocumentConnectionResult:
        wanted = None if status is None else DocumentStatusModel[status.name]

        async def act(service: KnowledgeService, actor: Actor) -> Connection[Document]:
            size = info.context.page_size(first)
            page = await service.document_page(
                actor, parse_id(collection_id, "collectionId"), size, after, wanted
            )
            return Connection[Document].of(page, Document.from_model)

        return await read_knowledge(info, act, admin=False)

    @strawberry.field(
        description="One document, with its ingestion status. A member gets NotFound for a "
        "document they may not read (see `documents`)."
    )
    async def document(self, info: Info, id: strawberry.ID) -> DocumentResult:
        async def act(service: KnowledgeService, actor: Actor) -> Document:
            return Document.from_model(await service.document(actor, parse_id(id)))

        return await read_knowledge(info, act, admin=False)
