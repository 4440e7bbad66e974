"""Retrieval latency under audiences: a reader whose attributes admit 5% of the chunks
(and one admitted to 95%) against the unfiltered search, side by side in one run, for
the two deployments:

- the embedded store, with the keyword leg in SQLite (FTS5);
- pgvector, with the keyword leg in PostgreSQL (``tsvector``), on a throw-away
  PostgreSQL from the ``pgserver`` package.

The corpus is the 18F handbook (``../shared/corpora/18f-handbook``) parsed and chunked
as ingestion does, copied into documents of 100 chunks up to ``--size`` chunks, with
random vectors (``bench/retrieval_latency.py`` builds it). One document in twenty is
for employees in Vietnam, the others for employees in the United States. The
questions are ``bench/rag_questions.json``, their vectors computed beforehand.

For each question, in turn (the order rotates): the unfiltered search (no audience, as
every member had before audiences), then as the reader in Vietnam and as the reader in
the United States, each with vectors only and hybrid. Printed: p50 of each search,
its ratio to the unfiltered one, and that ratio counting also the statement that
lists what the reader may read (once per question, before the search).

    uv run python bench/audience_latency.py                       # 100k chunks, both stores
    uv run python bench/audience_latency.py --size 10000 --stores database
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

from bench.rag_eval import HANDBOOK, QUESTIONS  # noqa: E402
from bench.retrieval_latency import (  # noqa: E402
    TOP_K,
    Corpus,
    Precomputed,
    percentile,
    postgres_container,
    started_container,
)
from ezhr_graphql.container import Container  # noqa: E402
from ezhr_graphql.models import Agent, AudienceAttribute, Document, User  # noqa: E402
from ezhr_graphql.rag.embeddings import LocalEmbedder  # noqa: E402
from ezhr_graphql.rag.parsing import ParseError  # noqa: E402
from ezhr_graphql.repositories.audience import AudienceRepository  # noqa: E402
from ezhr_graphql.repositories.knowledge import CollectionRepository  # noqa: E402
from ezhr_graphql.services.attributes import reader_values  # noqa: E402
from ezhr_graphql.services.ingestion.chunks import parse_and_chunk  # noqa: E402
from ezhr_graphql.services.retrieval import Knowledge  # noqa: E402
from ezhr_graphql.services.seed import seed  # noqa: E402
from ezhr_graphql.settings import KnowledgeSettings  # noqa: E402
from ezhr_graphql.vectors import Vectors  # noqa: E402

# One document in SHARE is for Vietnam: 5% of the chunks.
SHARE = 20
SIGN_IN = ("bench@example.com", "bench-password-1")


def handbook_chunks() -> list[tuple[str, str, list[str]]]:
    """(title, chunk text, heading path) of every handbook page, cut as ingestion cuts."""
    settings = KnowledgeSettings()
    found: list[tuple[str, str, list[str]]] = []
    for path in sorted(HANDBOOK.rglob("*.md")):
        try:
            parsed, chunks = parse_and_chunk(path.read_bytes(), path.name, settings)
        except ParseError:  # a redirect page, front matter only: no chunk
            continue
        found.extend((parsed.title or path.stem, c.text, list(c.heading_path)) for c in chunks)
    return found


@dataclasses.dataclass
class Scoped:
    """The agent answering from the corpus, and one reader of each country."""

    agent: Agent
    collection: uuid.UUID
    vietnam: User
    united_states: User


async def scope(container: Container, corpus: Corpus, agent: Agent) -> Scoped:
    """Attach the corpus to the agent, give its documents their audiences, and make the
    readers."""
    async with container.db.transaction() as session:
        await CollectionRepository.from_session(session).set_for_agent(
            agent.id, [corpus.collection]
        )
        # Every vector hit counts (the chunk vectors are random), as in retrieval_latency.
        await session.execute(
            update(Agent)
            .where(Agent.id == agent.id)
            .values(top_k=TOP_K, similarity_threshold=-1.0, include_outdated=False)
        )
        documents = list(
            await session.scalars(
                select(Document.id)
                .where(Document.collection_id == corpus.collection)
                .order_by(Document.id)
            )
        )
        audiences = AudienceRepository.from_session(session)
        for i, document in enumerate(documents):
            country = "VN" if i % SHARE == 0 else "US"
            await audiences.set_document(document, {AudienceAttribute.COUNTRY: [country]})
        readers = [
            User(email=f"{c.lower()}@example.com", password_hash="-", display_name=c, country=c)
            for c in ("VN", "US")
        ]
        session.add_all(readers)
    async with container.db.read() as session:
        fresh = await session.get(Agent, agent.id)
    assert fresh is not None
    return Scoped(fresh, corpus.collection, *readers)


async def readable_set(container: Container, scoped: Scoped, reader: User) -> float:
    """Milliseconds of the one statement that lists what ``reader`` may read: the work
    a question does for audiences before its search (in ``Retriever.knowledge_of``,
    beside reading the agent's collections and models, as it did before)."""
    async with container.db.read() as session:
        started = time.perf_counter()
        await AudienceRepository.from_session(session).documents_of(
            [scoped.collection], reader_values(reader)
        )
        return (time.perf_counter() - started) * 1000


def unfiltered(knowledge: Knowledge) -> Knowledge:
    """The same knowledge with no audience applied anywhere."""
    scopes = [
        (model, dataclasses.replace(s, only_documents=None, exclude_documents=()))
        for model, s in knowledge.scopes
    ]
    return dataclasses.replace(knowledge, scopes=scopes, reader=None, readable=None)


async def measure(
    container: Container, scoped: Scoped, questions: list[str], vectors: dict[str, Vectors]
) -> dict[str, list[float]]:
    """Milliseconds per retrieval, by leg set and reader."""
    timings: dict[str, list[float]] = {}
    for keyword in (False, True):
        retriever = Precomputed.of(container, vectors, keyword_search=keyword)
        legs = "hybrid" if keyword else "vectors"
        scoped_knowledge = await retriever.knowledge_of(scoped.agent, scoped.vietnam.id)
        assert scoped_knowledge is not None
        base = unfiltered(scoped_knowledge)
        await retriever.retrieve(base, questions[0])  # the embedded store loads its matrix
        for i, question in enumerate(questions):
            runs = [("all", None), ("5%", scoped.vietnam), ("95%", scoped.united_states)]
            for name, reader in runs[i % 3 :] + runs[: i % 3]:
                knowledge: Knowledge | None = base
                if reader is not None:
                    timings.setdefault(f"{legs} {name} readable", []).append(
                        await readable_set(container, scoped, reader)
                    )
                    knowledge = await retriever.knowledge_of(scoped.agent, reader.id)
                assert knowledge is not None
                searched = time.perf_counter()
                passages = await retriever.retrieve(knowledge, question)
                done = time.perf_counter()
                assert len(passages) == knowledge.top_k, (name, len(passages))
                timings.setdefault(f"{legs} {name}", []).append((done - searched) * 1000)
    return timings


def report(store: str, size: int, timings: dict[str, list[float]]) -> None:
    def p50(key: str) -> float:
        return statistics.median(timings[key])

    for legs in ("vectors", "hybrid"):
        base = p50(f"{legs} all")
        cells = [f"unfiltered p50 {base:6.2f} p99 {percentile(timings[f'{legs} all'], 99):6.2f}"]
        for share in ("5%", "95%"):
            search = p50(f"{legs} {share}")
            listed = p50(f"{legs} {share} readable")
            cells.append(
                f"{share} admitted p50 {search:6.2f} x{search / base:.2f} "
                f"(with the readable-set statement, {listed:.2f}: x{(search + listed) / base:.2f})"
            )
        print(f"  {store:9} {size:>7} chunks {legs:8} | " + " | ".join(cells))


async def run(
    store: str,
    container: Container,
    size: int,
    source: list[tuple[str, str, list[str]]],
    questions: tuple[list[str], dict[str, Vectors]],
) -> None:
    async with container.db.transaction() as session:
        seeded = await seed(session, container.hasher, *SIGN_IN)
    corpus = Corpus(container, seeded.embedding_model, source)
    await corpus.create()
    rate = await corpus.grow(size)
    print(f"  {store}: {size} chunks loaded at {rate:,.0f} chunks/s")
    scoped = await scope(container, corpus, seeded.agent)
    report(store, size, await measure(container, scoped, *questions))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="chunks in the corpus")
    parser.add_argument("--stores", default="database,pgvector", help="vector stores to measure")
    parser.add_argument("--questions", type=int, default=200, help="questions asked")
    args = parser.parse_args()
    stores = args.stores.split(",")
    source = handbook_chunks()
    asked = [q["question"] for q in json.loads(QUESTIONS.read_text())]
    texts = (asked * (args.questions // len(asked) + 1))[: args.questions]
    vectors = await asyncio.to_thread(LocalEmbedder().embed_documents, list(dict.fromkeys(texts)))
    by_text = dict(zip(dict.fromkeys(texts), vectors, strict=True))
    print(
        f"retrieval latency under audiences, top {TOP_K}, {len(texts)} questions (ms; "
        f"{len(source)} handbook chunks copied, random chunk vectors, real question vectors):"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if "database" in stores:
            container = await started_container(f"sqlite+aiosqlite:///{tmp}/audience.db")
            try:
                await run("database", container, args.size, source, (texts, by_text))
            finally:
                await container.close()
        if "pgvector" in stores:
            from tests.pgvector_server import running_pgvector

            with running_pgvector(Path(tmp)) as url:
                postgres = await postgres_container(url)
                try:
                    await run("pgvector", postgres, args.size, source, (texts, by_text))
                finally:
                    await postgres.close()


if __name__ == "__main__":
    asyncio.run(main())
