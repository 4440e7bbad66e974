"""Retrieval for a run: the agent's top passages for a question, as citations.

Each of the agent's collections is searched with the embedding model it is indexed
with (during a model change, the old one, until the swap). Outdated documents are left
out unless the agent includes them; passages under the agent's similarity threshold
are dropped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ezhr_graphql.db import Database
from ezhr_graphql.models import Agent, Document, DocumentChunk, EmbeddingModel
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.repositories.knowledge import CollectionRepository, DocumentRepository
from ezhr_graphql.services.ingestion import embedding_spec
from ezhr_graphql.vectors import Hit, SearchScope, VectorStore

QUOTE_LENGTH = 600
# Hits fetched beyond top_k, so that vectors of chunks replaced a moment ago (skipped)
# do not leave the answer short.
OVERFETCH = 2


@dataclass(frozen=True, slots=True)
class Passage:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    title: str
    heading_path: tuple[str, ...]
    page: int | None
    text: str
    score: float

    @property
    def label(self) -> str:
        parts = [self.title, *self.heading_path]
        if self.page is not None:
            parts.append(f"page {self.page}")
        return " — ".join(p for p in parts if p)

    def citation(self) -> dict[str, Any]:
        return {
            "documentId": str(self.document_id),
            "title": self.title,
            "heading": " > ".join(self.heading_path) or None,
            "page": self.page,
            "quote": self.text[:QUOTE_LENGTH],
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What an agent answers from; ``None`` from :meth:`Retriever.knowledge_of` means
    the agent has no collections and answers as a plain chat."""

    agent_id: uuid.UUID
    scopes: list[tuple[EmbeddingModel, SearchScope]]
    top_k: int
    threshold: float


class Retriever:
    def __init__(
        self,
        db: Database,
        store: VectorStore,
        models: ModelRegistry,
        secret: Callable[[str | None], str | None],
    ) -> None:
        self.db = db
        self.store = store
        self.models = models
        self.secret = secret

    async def knowledge_of(self, agent: Agent) -> Knowledge | None:
        async with self.db.read() as session:
            collections = await CollectionRepository.from_session(session).of_agent(agent.id)
            if not collections:
                return None
            excluded: set[uuid.UUID] = set()
            if not agent.include_outdated:
                excluded = await DocumentRepository.from_session(session).outdated_in(
                    [c.id for c in collections]
                )
            by_model: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(dict)
            for collection in collections:
                by_model[collection.embedding_model_id][collection.id] = collection.index_version
            rows = await session.scalars(
                select(EmbeddingModel).where(EmbeddingModel.id.in_(list(by_model)))
            )
            models = {row.id: row for row in rows}
        scopes = [
            (
                models[model_id],
                SearchScope(model_id, models[model_id].dimensions, versions, excluded),
            )
            for model_id, versions in by_model.items()
            if model_id in models
        ]
        return Knowledge(agent.id, scopes, agent.top_k, agent.similarity_threshold)

    async def retrieve(self, knowledge: Knowledge, question: str) -> list[Passage]:
        """Raises:
        LLMError: the embedding model failed.
        """
        hits: list[Hit] = []
        for model, scope in knowledge.scopes:
            embedder = await asyncio.to_thread(
                self.models.embedder, embedding_spec(model, self.secret)
            )
            query = await asyncio.to_thread(embedder.embed_query, question)
            hits.extend(await self.store.search(scope, query, knowledge.top_k * OVERFETCH))
        hits = [h for h in hits if h.score >= knowledge.threshold]
        hits.sort(key=lambda h: h.score, reverse=True)
        return await self._passages(hits, knowledge.top_k)

    async def _passages(self, hits: list[Hit], k: int) -> list[Passage]:
        if not hits:
            return []
        async with self.db.read() as session:
            rows = await session.execute(
                select(DocumentChunk, Document.title, Document.filename)
                .join(Document, Document.id == DocumentChunk.document_id)
                .where(DocumentChunk.id.in_([h.chunk_id for h in hits]))
            )
            found = {chunk.id: (chunk, title or filename) for chunk, title, filename in rows}
        passages: list[Passage] = []
        for hit in hits:
            entry = found.get(hit.chunk_id)
            if entry is None:  # replaced since it was indexed
                continue
            chunk, title = entry
            passages.append(
                Passage(
                    chunk_id=chunk.id,
                    document_id=chunk.document_id,
                    title=title,
                    heading_path=tuple(chunk.heading_path or ()),
                    page=chunk.page,
                    text=chunk.text,
                    score=max(0.0, min(1.0, hit.score)),
                )
            )
            if len(passages) == k:
                break
        return passages
