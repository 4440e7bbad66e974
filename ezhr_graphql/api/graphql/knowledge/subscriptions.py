"""Following a document's ingestion live."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.errors import as_top_level
from ezhr_graphql.api.graphql.knowledge.types import IngestionProgress
from ezhr_graphql.api.graphql.observe import open_subscription
from ezhr_graphql.api.graphql.scalars import parse_id
from ezhr_graphql.errors import DomainError


@strawberry.type
class KnowledgeSubscriptions:
    @strawberry.subscription(
        description="A document's ingestion as it happens: its current state first, then "
        "each stage and batch of chunks, ending with READY or FAILED. Members may follow "
        "only the documents they may read (see `document`); any other is NOT_FOUND."
    )
    async def ingestion_progress(
        self, info: Info, document_id: strawberry.ID
    ) -> AsyncGenerator[IngestionProgress, None]:
        ctx = info.context
        actor = ctx.require_actor()
        try:
            target = parse_id(document_id, "documentId")
        except DomainError as exc:
            raise GraphQLError(exc.message, extensions={"code": "INVALID_INPUT"}) from exc
        try:
            if not actor.is_admin:  # NotFound when the member may not read it
                async with ctx.db.read() as session:
                    await ctx.container.services(session).knowledge.document(actor, target)
            with open_subscription("ingestionProgress"):
                async for progress in ctx.container.ingestion_progress.follow(target):
                    yield IngestionProgress.of(target, progress)
        except DomainError as exc:
            raise as_top_level(exc) from exc
