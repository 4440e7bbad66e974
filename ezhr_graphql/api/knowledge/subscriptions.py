"""Following a document's ingestion live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from ezhr_graphql.api.context import Info
from ezhr_graphql.api.knowledge.types import DocumentStatus, IngestionProgress
from ezhr_graphql.api.observe import open_subscription
from ezhr_graphql.api.scalars import parse_id
from ezhr_graphql.errors import DomainError
from ezhr_graphql.repositories.knowledge import DocumentRepository
from ezhr_graphql.services.ingestion import progress_channel

TERMINAL = (DocumentStatus.READY, DocumentStatus.FAILED)


@strawberry.type
class KnowledgeSubscriptions:
    @strawberry.subscription(
        description="A document's ingestion as it happens (admins only): its current state "
        "first, then each stage and batch of chunks, ending with READY or FAILED."
    )
    async def ingestion_progress(
        self, info: Info, document_id: strawberry.ID
    ) -> AsyncGenerator[IngestionProgress, None]:
        ctx = info.context
        ctx.require_admin()
        try:
            target = parse_id(document_id, "documentId")
        except DomainError as exc:
            raise GraphQLError(exc.message, extensions={"code": "INVALID_INPUT"}) from exc
        # Listen first, then read the row: nothing published in between is missed.
        events = await ctx.container.broker.subscribe(progress_channel(target))
        try:
            with open_subscription("ingestionProgress"):
                async with ctx.db.read() as session:
                    row = await DocumentRepository.from_session(session).get(target)
                if row is None:
                    raise GraphQLError("Document not found", extensions={"code": "NOT_FOUND"})
                current = IngestionProgress.from_row(row)
                yield current
                if current.status in TERMINAL:
                    return
                async for data in events:
                    try:
                        progress = IngestionProgress.from_event(data)
                    except (KeyError, ValueError, TypeError):
                        continue
                    yield progress
                    if progress.status in TERMINAL:
                        return
        finally:
            await events.aclose()
