"""The agent's knowledge, and its passages for a question.

Each of the agent's collections is searched with the embedding model it is indexed
with (during a model change, the old one, until the swap), and by keywords, side by
side. Both legs fetch a pool of candidates larger than the agent's ``top_k``, with the
same filters applied inside the search: the agent's collections only, outdated
documents left out unless the agent includes them, and only chunks that are indexed
now (a replaced or deleted chunk is gone from both). Vector hits under the agent's
similarity threshold are not used; a passage the keyword leg found is kept whatever its
cosine (a small English embedding model gives Vietnamese passages low ones).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ezhr_graphql.db import Database
from ezhr_graphql.models import Agent, Document, DocumentChunk, EmbeddingModel
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.rag.embeddings import LOCAL_EMBEDDING_LANGUAGES
from ezhr_graphql.repositories.keywords import KeywordHit, KeywordRepository, KeywordScope
from ezhr_graphql.repositories.knowledge import CollectionRepository, DocumentRepository
from ezhr_graphql.services.ingestion import embedding_spec
from ezhr_graphql.services.retrieval.passage import Passage
from ezhr_graphql.services.retrieval.rerank import Candidate, rerank
from ezhr_graphql.services.retrieval.terms import QueryTerms, query_terms
from ezhr_graphql.vectors import Hit, SearchScope, Vectors, VectorStore

# Candidates each leg fetches: POOL_FACTOR times top_k, within these bounds.
POOL_FACTOR = 4
MIN_POOL = 20
MAX_POOL = 100


def pool_size(top_k: int) -> int:
    return min(MAX_POOL, max(MIN_POOL, POOL_FACTOR * top_k))


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What an agent answers from; ``None`` from :meth:`Retriever.knowledge_of` means
    the agent has no collections and answers as a plain chat."""

    agent_id: uuid.UUID
    scopes: list[tuple[EmbeddingModel, SearchScope]]
    top_k: int
    threshold: float

    def reads(self, language: str) -> bool:
        """Whether the cosines of its embedding models mean something for questions in
        ``language`` (the local model was trained on English only: it scores every
        Vietnamese passage about alike)."""
        return all(
            model.provider != "local" or language in LOCAL_EMBEDDING_LANGUAGES
            for model, _ in self.scopes
        )

    def keyword_scope(self) -> KeywordScope:
        collections = {c for _, scope in self.scopes for c in scope.collections}
        excluded = {d for _, scope in self.scopes for d in scope.exclude_documents}
        return KeywordScope(collections, excluded)


class Retriever:
    def __init__(
        self,
        db: Database,
        store: VectorStore,
        models: ModelRegistry,
        secret: Callable[[str | None], str | None],
        *,
        keyword_search: bool = True,
    ) -> None:
        """``keyword_search=False`` searches vectors only (benchmarks compare both)."""
        self.db = db
        self.store = store
        self.models = models
        self.secret = secret
        self.keyword_search = keyword_search

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
        """The agent's ``top_k`` passages for ``question``, best first.

        Raises:
            LLMError: the embedding model failed.
        """
        pool = pool_size(knowledge.top_k)
        terms = query_terms(question) if self.keyword_search else QueryTerms((), ())
        keyword = asyncio.ensure_future(self._keywords(knowledge, terms, pool))
        await asyncio.sleep(0)  # the keyword query starts before the vector leg runs
        try:
            vector = await self._vectors(knowledge, question, pool)
        except BaseException:
            keyword.cancel()
            await asyncio.gather(keyword, return_exceptions=True)
            raise
        candidates = await self._candidates(knowledge, vector, await keyword, pool)
        return rerank(terms, candidates, knowledge.top_k)

    async def _keywords(
        self, knowledge: Knowledge, terms: QueryTerms, pool: int
    ) -> list[KeywordHit]:
        if not terms:
            return []
        async with self.db.read() as session:
            return await KeywordRepository(session).search(
                knowledge.keyword_scope(), terms.search, pool
            )

    async def embed(self, model: EmbeddingModel, question: str) -> Vectors:
        """The question's vector for ``model`` (in a worker thread)."""
        embedder = await asyncio.to_thread(self.models.embedder, embedding_spec(model, self.secret))
        return await asyncio.to_thread(embedder.embed_query, question)

    async def _vectors(self, knowledge: Knowledge, question: str, pool: int) -> list[Hit]:
        """The vector leg's hits over every scope, best first (one per chunk)."""
        best: dict[uuid.UUID, Hit] = {}
        for model, scope in knowledge.scopes:
            query = await self.embed(model, question)
            for hit in await self.store.search(scope, query, pool):
                if hit.chunk_id not in best or best[hit.chunk_id].score < hit.score:
                    best[hit.chunk_id] = hit
        return sorted(best.values(), key=lambda h: h.score, reverse=True)

    async def _candidates(
        self, knowledge: Knowledge, vector: list[Hit], keyword: list[KeywordHit], pool: int
    ) -> list[Candidate]:
        """Both legs' hits as candidates with their chunks, ranked in each leg; vector
        hits under the threshold only as the keyword leg's, and hits whose chunk is
        gone (replaced since the vectors were loaded) not at all."""
        used = [h for h in vector if h.score >= knowledge.threshold]
        loaded = await self._load([h.chunk_id for h in used] + [h.chunk_id for h in keyword])
        candidates: dict[uuid.UUID, Candidate] = {}
        for rank, hit in enumerate(used, start=1):
            if (candidate := loaded.get(hit.chunk_id)) is not None:
                candidate.vector_rank, candidate.vector_score = rank, hit.score
                candidates[hit.chunk_id] = candidate
        cosines = {h.chunk_id: h.score for h in vector}
        top = max((h.score for h in keyword), default=0.0)
        for rank, found in enumerate(keyword, start=1):
            if (candidate := loaded.get(found.chunk_id)) is not None:
                candidate.keyword_rank = rank
                candidate.keyword_score = found.score / top if top > 0 else 1.0
                candidate.vector_score = cosines.get(found.chunk_id)
                candidates[found.chunk_id] = candidate
        # A chunk the vector leg did not return is no closer than the last it did.
        floor = min(cosines.values(), default=0.0) if len(vector) >= pool else 0.0
        for candidate in candidates.values():
            candidate.cosine_bound = floor
        return list(candidates.values())

    async def _load(self, chunk_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Candidate]:
        if not chunk_ids:
            return {}
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    DocumentChunk.id,
                    DocumentChunk.document_id,
                    DocumentChunk.heading_path,
                    DocumentChunk.page,
                    DocumentChunk.text,
                    Document.title,
                    Document.filename,
                )
                .join(Document, Document.id == DocumentChunk.document_id)
                .where(DocumentChunk.id.in_(list(dict.fromkeys(chunk_ids))))
            )
            return {
                chunk_id: Candidate(
                    chunk_id=chunk_id,
                    document_id=document_id,
                    title=title or filename,
                    heading_path=tuple(heading_path or ()),
                    page=page,
                    text=text,
                )
                for chunk_id, document_id, heading_path, page, text, title, filename in rows
            }
