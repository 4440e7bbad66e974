"""The agent's knowledge, and its passages for a question.

Each of the agent's collections is searched with the embedding model it is indexed
with (during a model change, the old one, until the swap), and by keywords, side by
side. Both legs fetch a pool of candidates larger than the agent's ``top_k``, with the
same filters applied inside the search: the agent's collections only, the documents
whose audiences admit the reader who asks (their own and their collection's), outdated
documents left out unless the agent includes them, and only chunks that are indexed
now (a replaced or deleted chunk is gone from both). The vector leg is given the
documents it may return, or those it may not when they are fewer; the keyword leg
matches the audiences in its own statement. Vector hits under the agent's
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
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db import Database
from ezhr_graphql.models import Agent, Document, DocumentChunk, EmbeddingModel
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.rag.embeddings import LOCAL_EMBEDDING_LANGUAGES
from ezhr_graphql.repositories.audience import AudienceRepository, Readable, Reader, admits
from ezhr_graphql.repositories.keywords import (
    KeywordHit,
    KeywordRepository,
    KeywordScope,
    TermCounts,
)
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.services.attributes import reader_of
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
    """What an agent answers from, for one reader; ``None`` from
    :meth:`Retriever.knowledge_of` means the agent has no collections and answers as
    a plain chat.

    ``reader``: what the reader holds of each attribute audiences constrain (the
    keyword leg matches audiences with it). ``readable``: the documents of the
    collections the reader may read, when known; a hit of any other document (one
    that became searchable after they were listed) is dropped.
    """

    agent_id: uuid.UUID
    scopes: list[tuple[EmbeddingModel, SearchScope]]
    top_k: int
    threshold: float
    reader: Reader | None = None
    readable: frozenset[uuid.UUID] | None = None
    outdated: frozenset[uuid.UUID] = frozenset()

    def reads(self, language: str) -> bool:
        """Whether the cosines of its embedding models mean something for questions in
        ``language`` (the local model was trained on English only: it scores every
        Vietnamese passage about alike)."""
        return all(
            model.provider != "local" or language in LOCAL_EMBEDDING_LANGUAGES
            for model, _ in self.scopes
        )

    def keyword_scope(self) -> KeywordScope:
        """The keyword leg's filters: the same as the vector leg's, the audiences
        matched in its own statement (no list of documents to send)."""
        collections = {c for _, scope in self.scopes for c in scope.collections}
        if self.reader is not None:
            return KeywordScope(collections, self.outdated, self.reader)
        excluded = {d for _, scope in self.scopes for d in scope.exclude_documents}
        return KeywordScope(collections, excluded)

    def admits(self, document_id: uuid.UUID) -> bool:
        return self.readable is None or document_id in self.readable


@dataclass(frozen=True, slots=True)
class _Documents:
    """The documents of an agent's collections a reader may use, and per collection
    the filter its search applies: the shorter of the list of documents it may
    return and the list of those it may not."""

    usable: frozenset[uuid.UUID]
    barred: frozenset[uuid.UUID]
    outdated: frozenset[uuid.UUID]
    collections: frozenset[uuid.UUID]

    @classmethod
    def of(cls, rows: list[Readable], include_outdated: bool) -> _Documents:
        outdated = set() if include_outdated else {r.document_id for r in rows if r.outdated}
        usable = {r.document_id for r in rows if r.admitted} - outdated
        barred = {r.document_id for r in rows} - usable
        collections = {r.collection_id for r in rows if r.document_id in usable}
        return cls(
            frozenset(usable), frozenset(barred), frozenset(outdated), frozenset(collections)
        )

    def scope(self, model: EmbeddingModel, versions: dict[uuid.UUID, int]) -> SearchScope:
        if len(self.usable) < len(self.barred):
            return SearchScope(model.id, model.dimensions, versions, only_documents=self.usable)
        return SearchScope(model.id, model.dimensions, versions, self.barred)


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
        self.term_counts = TermCounts()

    async def knowledge_of(self, agent: Agent, reader_id: uuid.UUID) -> Knowledge | None:
        """What ``agent`` answers from for the user ``reader_id``: the documents of its
        collections whose audiences admit the user's attributes as stored now (nothing
        the client sends), found in one statement per question. A collection none of
        whose documents the user may read is not searched at all."""
        async with self.db.read() as session:
            collections = await CollectionRepository.from_session(session).of_agent(agent.id)
            if not collections:
                return None
            reader = await reader_of(session, reader_id)
            rows = await AudienceRepository.from_session(session).documents_of(
                [c.id for c in collections], reader
            )
            documents = _Documents.of(rows, agent.include_outdated)
            by_model: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(dict)
            for collection in collections:
                if collection.id in documents.collections:
                    by_model[collection.embedding_model_id][collection.id] = (
                        collection.index_version
                    )
            models = await self._models(session, list(by_model))
        scopes = [
            (models[model_id], documents.scope(models[model_id], versions))
            for model_id, versions in by_model.items()
            if model_id in models
        ]
        return Knowledge(
            agent.id,
            scopes,
            agent.top_k,
            agent.similarity_threshold,
            reader,
            documents.usable,
            documents.outdated,
        )

    @staticmethod
    async def _models(
        session: AsyncSession, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, EmbeddingModel]:
        if not ids:
            return {}
        rows = await session.scalars(select(EmbeddingModel).where(EmbeddingModel.id.in_(ids)))
        return {row.id: row for row in rows}

    async def retrieve(self, knowledge: Knowledge, question: str) -> list[Passage]:
        """The agent's ``top_k`` passages for ``question``, best first.

        Raises:
            LLMError: the embedding model failed.
        """
        pool = pool_size(knowledge.top_k)
        terms = query_terms(question) if self.keyword_search else QueryTerms((), ())
        # The vector leg first, to its worker thread (embedding the question, then the
        # matrix product): SQLite's statements run on the event loop, so the keyword
        # leg started first would be done before the vector leg began.
        vector = asyncio.ensure_future(self._vectors(knowledge, question, pool))
        try:
            await asyncio.sleep(0)
            keyword = await self._keywords(knowledge, terms, pool)
            found = await vector
        except BaseException:
            vector.cancel()
            await asyncio.gather(vector, return_exceptions=True)
            raise
        candidates = await self._candidates(knowledge, found, keyword, pool)
        return rerank(terms, candidates, knowledge.top_k)

    async def _keywords(
        self, knowledge: Knowledge, terms: QueryTerms, pool: int
    ) -> list[KeywordHit]:
        if not terms:
            return []
        async with self.db.read() as session:
            return await KeywordRepository(session, self.term_counts).search(
                knowledge.keyword_scope(), terms.search, pool
            )

    async def embed(self, model: EmbeddingModel, question: str) -> Vectors:
        """The question's vector for ``model``, in one worker thread job (the model is
        built there the first time)."""
        spec = embedding_spec(model, self.secret)

        def embed() -> Vectors:
            return self.models.embedder(spec).embed_query(question)

        return await asyncio.to_thread(embed)

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
        chunk_ids = [h.chunk_id for h in used] + [h.chunk_id for h in keyword]
        loaded = await self._load(chunk_ids, knowledge.reader)
        loaded = {c: found for c, found in loaded.items() if knowledge.admits(found.document_id)}
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

    async def _load(
        self, chunk_ids: Sequence[uuid.UUID], reader: Reader | None
    ) -> dict[uuid.UUID, Candidate]:
        """The chunks ``chunk_ids`` of the documents whose audiences admit ``reader``
        now: one whose audience changed since the reader's knowledge was worked out
        is checked again here, in the statement that loads the passages."""
        if not chunk_ids:
            return {}
        statement = (
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
        if reader is not None:
            statement = statement.where(admits(reader))
        async with self.db.read() as session:
            rows = await session.execute(statement)
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
