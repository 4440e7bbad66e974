"""Retrieval latency at 10k and 100k chunks: vectors only against hybrid (vectors and
keywords, fused and reranked), side by side in one run, for the two deployments:

- the embedded store, with the keyword leg in SQLite (FTS5);
- pgvector, with the keyword leg in PostgreSQL (``tsvector``), on a throw-away
  PostgreSQL from the ``pgserver`` package.

The chunks are real text: the handbook's chunks, as ingested by ``rag_eval.py``, copied
over and over into documents of 100 chunks (so words are as common as in a handbook
of that size); their vectors are random, the questions' vectors real. Each question is
asked of both retrievers in turn, with its vector computed beforehand: the numbers are
retrieval (both legs, fusion, rerank, loading the passages), not embedding the
question, which costs the same either way.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import func, insert, select, text

from ezhr_graphql import migrations
from ezhr_graphql.container import Container
from ezhr_graphql.models import (
    Collection,
    Document,
    DocumentChunk,
    DocumentStatus,
    EmbeddingModel,
)
from ezhr_graphql.repositories.keywords import KeywordRepository
from ezhr_graphql.services.retrieval import Knowledge, Retriever
from ezhr_graphql.services.retrieval.retriever import pool_size
from ezhr_graphql.services.retrieval.terms import query_terms
from ezhr_graphql.services.seed import seed
from ezhr_graphql.settings import Environment, Settings
from ezhr_graphql.vectors import SearchScope, VectorRows, Vectors

DIMS = 384
TOP_K = 5
CHUNKS_PER_DOCUMENT = 100
ROWS_PER_INSERT = 500


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


R = TypeVar("R", bound=Retriever)


def retriever_of(container: Container, kind: type[R], *, keyword_search: bool) -> R:
    """A retriever of ``kind`` on ``container``'s database, vector store and models."""
    return kind(
        container.db,
        container.vector_store,
        container.models,
        container.settings.llm_secret,
        keyword_search=keyword_search,
    )


class Precomputed(Retriever):
    """A retriever whose questions come with their vectors."""

    vectors: dict[str, Vectors]

    @classmethod
    def of(
        cls, container: Container, vectors: dict[str, Vectors], *, keyword_search: bool
    ) -> Precomputed:
        """``container``'s retriever, asked only questions of ``vectors``."""
        retriever = retriever_of(container, cls, keyword_search=keyword_search)
        retriever.vectors = vectors
        return retriever

    async def embed(self, model: EmbeddingModel, question: str) -> Vectors:
        return self.vectors[question]


async def handbook_chunks(container: Container) -> list[tuple[str, str, list[str]]]:
    """(document title, chunk text, heading path) of every chunk ingested."""
    async with container.db.read() as session:
        rows = await session.execute(
            select(Document.title, DocumentChunk.text, DocumentChunk.heading_path)
            .join(Document, Document.id == DocumentChunk.document_id)
            .order_by(Document.title, DocumentChunk.ordinal)
        )
        return [(title, body, list(headings or [])) for title, body, headings in rows]


class Corpus:
    """A collection grown to a number of chunks, with random vectors for them."""

    def __init__(self, container: Container, model: EmbeddingModel, source: list[Any]) -> None:
        self.container = container
        self.model = model
        self.source = source
        self.collection = uuid.uuid4()
        self.size = 0
        self.rng = np.random.default_rng(42)

    async def create(self) -> None:
        async with self.container.db.transaction() as session:
            session.add(
                Collection(
                    id=self.collection,
                    name=f"latency {self.collection}",
                    embedding_model_id=self.model.id,
                )
            )

    async def grow(self, size: int) -> float:
        """Add documents until the collection holds ``size`` chunks; chunks per second."""
        started, added = time.perf_counter(), size - self.size
        while self.size < size:
            await self._document(min(CHUNKS_PER_DOCUMENT, size - self.size))
        if self.container.db.engine.dialect.name == "postgresql":
            async with self.container.db.transaction() as session:
                # What autovacuum does after a load (the keyword leg reads the statistics).
                await session.execute(text("ANALYZE"))
        return added / (time.perf_counter() - started)

    async def _document(self, n: int) -> None:
        document = uuid.uuid4()
        first = self.size % len(self.source)
        picked = [self.source[(first + i) % len(self.source)] for i in range(n)]
        ids = [uuid.uuid4() for _ in range(n)]
        async with self.container.db.transaction() as session:
            session.add(
                Document(
                    id=document,
                    collection_id=self.collection,
                    filename=f"{document}.md",
                    kind="markdown",
                    size_bytes=1,
                    content_hash=document.hex,
                    title=picked[0][0],
                    status=DocumentStatus.READY,
                )
            )
            await session.flush()
            rows = [
                {"id": i, "document_id": document, "ordinal": o, "text": t, "heading_path": h}
                for o, (i, (_, t, h)) in enumerate(zip(ids, picked, strict=True))
            ]
            for start in range(0, n, ROWS_PER_INSERT):
                await session.execute(insert(DocumentChunk), rows[start : start + ROWS_PER_INSERT])
        vectors = self.rng.standard_normal((n, DIMS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows_of = VectorRows(document, self.collection, ids, vectors)
        await self.container.vector_store.add(self.model.id, rows_of)
        self.size += n

    def knowledge(self) -> Knowledge:
        scope = SearchScope(self.model.id, DIMS, {self.collection: self.size})
        return Knowledge(uuid.uuid4(), [(self.model, scope)], TOP_K, -1.0)


async def measure(
    container: Container, corpus: Corpus, questions: list[str], vectors: dict[str, Vectors]
) -> dict[str, list[float]]:
    """Each question through vectors only, hybrid, and the keyword leg alone (ms)."""
    retrievers = {
        name: Precomputed.of(container, vectors, keyword_search=keyword)
        for name, keyword in (("vector", False), ("hybrid", True))
    }
    knowledge = corpus.knowledge()
    for retriever in retrievers.values():  # the embedded store loads its matrix here
        await retriever.retrieve(knowledge, questions[0])
    timings: dict[str, list[float]] = {"vector": [], "hybrid": [], "keyword": []}
    for i, question in enumerate(questions):
        order = list(retrievers.items())
        for name, retriever in order if i % 2 else reversed(order):  # neither always first
            started = time.perf_counter()
            await retriever.retrieve(knowledge, question)
            timings[name].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        async with container.db.read() as session:
            # With the term counts the hybrid retriever keeps, as its keyword leg reads.
            counts = retrievers["hybrid"].term_counts
            await KeywordRepository(session, counts).search(
                knowledge.keyword_scope(), query_terms(question).search, pool_size(TOP_K)
            )
        timings["keyword"].append((time.perf_counter() - started) * 1000)
    return timings


def report(name: str, size: int, rate: float, timings: dict[str, list[float]]) -> None:
    def cell(key: str) -> str:
        values = timings[key]
        return f"p50 {percentile(values, 50):6.2f}  p99 {percentile(values, 99):6.2f}"

    ratio = statistics.median(timings["hybrid"]) / statistics.median(timings["vector"])
    print(
        f"  {name:9} {size:>7} chunks | vectors only {cell('vector')} | "
        f"hybrid {cell('hybrid')} (p50 x{ratio:.2f}) | keyword leg alone {cell('keyword')} "
        f"| load {rate:,.0f} chunks/s"
    )


async def run(
    name: str,
    container: Container,
    source: list[Any],
    sizes: list[int],
    questions: tuple[list[str], dict[str, Vectors]],
) -> None:
    async with container.db.read() as session:
        model = await session.scalar(
            select(EmbeddingModel).where(EmbeddingModel.provider == "local")
        )
    assert model is not None
    corpus = Corpus(container, model, source)
    await corpus.create()
    for size in sizes:
        rate = await corpus.grow(size)
        report(name, size, rate, await measure(container, corpus, *questions))


async def started_container(url: str, **sections: Any) -> Container:
    """A container on the database at ``url``, migrated and started; ``sections`` are
    more of its settings (``knowledge={...}``)."""
    settings = Settings(
        env=Environment.TEST,
        database={"url": url},
        auth={"secret_key": "evaluation-signing-key-0123456789abcdef"},
        **sections,
    )
    container = Container.build(settings)
    await migrations.upgrade_engine(container.db.engine)
    await container.start()
    return container


async def postgres_container(url: str) -> Container:
    container = await started_container(url, knowledge={"vector_store": "pgvector"})
    async with container.db.transaction() as session:
        await seed(session, container.hasher, "eval@example.com", "eval-password-1")
    return container


async def latency(
    container: Container,
    sizes: list[int],
    texts: list[str],
    vectors: dict[str, Vectors],
    stores: tuple[str, ...] = ("database", "pgvector"),
) -> None:
    source = await handbook_chunks(container)
    count = await _chunk_count(container)
    print(
        f"retrieval latency, top {TOP_K}, {len(texts)} questions (ms; {count} handbook chunks "
        "copied into each corpus, random chunk vectors, real question vectors):"
    )
    if "database" in stores:
        await run("database", container, source, sizes, (texts, vectors))
    if "pgvector" not in stores:
        return
    from tests.pgvector_server import running_pgvector

    with tempfile.TemporaryDirectory() as tmp, running_pgvector(Path(tmp)) as url:
        postgres = await postgres_container(url)
        try:
            await run("pgvector", postgres, source, sizes, (texts, vectors))
        finally:
            await postgres.close()


async def _chunk_count(container: Container) -> int:
    async with container.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(DocumentChunk)) or 0)
