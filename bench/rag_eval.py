"""Retrieval quality and speed on the 18F handbook.

1. Ingests every handbook page (``../shared/corpora/18f-handbook``) through the real
   pipeline (upload, parse, chunk, embed with the local model, store) into a fresh
   SQLite database, and reports ingestion throughput.
2. Asks the questions of ``bench/rag_questions.json`` through the agent's retriever,
   vectors only and hybrid, and reports hit@1, hit@5 and MRR by source page.
3. Measures retrieval latency (p50/p99) at 10k and 100k chunks, vectors only against
   hybrid (vectors and keywords, fused and reranked), for the embedded store with
   SQLite and for pgvector with PostgreSQL (a throw-away one from the ``pgserver``
   package): see ``bench/retrieval_latency.py``.

    uv run python bench/rag_eval.py                 # everything
    uv run python bench/rag_eval.py --sizes 10000   # one size
    uv run python bench/rag_eval.py --files 20 --questions 10 --sizes 500  # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_latency import latency, percentile, retriever_of, started_container  # noqa: E402
from ezhr_graphql.container import Container  # noqa: E402
from ezhr_graphql.models import Agent, Role  # noqa: E402
from ezhr_graphql.rag.embeddings import LocalEmbedder  # noqa: E402
from ezhr_graphql.services.actor import Actor  # noqa: E402
from ezhr_graphql.services.knowledge import CollectionFields, DocumentFields  # noqa: E402
from ezhr_graphql.services.loading import JobList  # noqa: E402
from ezhr_graphql.services.retrieval import Knowledge, Retriever  # noqa: E402
from ezhr_graphql.services.seed import seed  # noqa: E402

HANDBOOK = ROOT.parent / "shared" / "corpora" / "18f-handbook"
QUESTIONS = ROOT / "bench" / "rag_questions.json"
DIMS = 384


def handbook_pages(limit: int | None) -> list[Path]:
    pages = sorted(
        p
        for p in HANDBOOK.rglob("*.md")
        if "redirects" not in p.relative_to(HANDBOOK).parts
        and p.name not in ("LICENSE.md", "CONTRIBUTING.md")
    )
    return pages[:limit] if limit else pages


async def ingest(container: Container, pages: list[Path]) -> tuple[uuid.UUID, dict[str, str]]:
    """Upload every page and index it; returns the collection and document -> path."""
    async with container.db.transaction() as session:
        result = await seed(session, container.hasher, "eval@example.com", "eval-password-1")
        admin = Actor(id=result.admin.id, role=Role.ADMIN, email="eval@example.com")
        queued = JobList()  # run below, one by one, to time them
        knowledge = container.services(session, ingestion_queue=queued).knowledge
        collection = await knowledge.create_collection(
            admin,
            CollectionFields(name="18F handbook", embedding_model_id=result.embedding_model.id),
        )
        paths: dict[str, str] = {}
        for page in pages:
            relative = page.relative_to(HANDBOOK).as_posix()
            uploaded = await knowledge.upload(
                admin, collection.id, relative, page.read_bytes(), DocumentFields()
            )
            paths[str(uploaded.document.id)] = relative
        agent = await session.get(Agent, result.agent.id)
        assert agent is not None
        await knowledge.set_agent_collections(admin, agent.id, [collection.id])
        agent.top_k = 5
        agent.similarity_threshold = -1.0
    jobs = queued.jobs  # queued once the transaction committed
    # Warm the model so that throughput is ingestion, not loading.
    await asyncio.to_thread(LocalEmbedder().embed_documents, ["warm up"])
    started = time.perf_counter()
    for job in jobs:
        if job.kind == "document":
            await container.ingestion.run(job)
    elapsed = time.perf_counter() - started
    async with container.db.read() as session:
        from sqlalchemy import func, select

        from ezhr_graphql.models import Document, DocumentChunk, DocumentStatus

        chunks = await session.scalar(select(func.count()).select_from(DocumentChunk)) or 0
        failed_rows = list(
            await session.execute(
                select(Document.filename, Document.error_code).where(
                    Document.status == DocumentStatus.FAILED
                )
            )
        )
        failed = ", ".join(f"{name} ({code})" for name, code in failed_rows) or "none"
    print(
        f"ingestion: {len(pages)} pages -> {chunks} chunks in {elapsed:.1f} s = "
        f"{chunks / elapsed:.1f} chunks/s ({len(pages) / elapsed:.2f} pages/s); "
        f"failed: {failed}"
    )
    return collection.id, paths


async def evaluate(
    container: Container, paths: dict[str, str], questions: list[dict[str, Any]]
) -> None:
    async with container.db.read() as session:
        from sqlalchemy import select

        agent = await session.scalar(select(Agent).where(Agent.name == "HR Assistant"))
    assert agent is not None
    for keyword_search in (False, True):
        retriever = retriever_of(container, Retriever, keyword_search=keyword_search)
        # As the agent's owner asks (the seeded documents are for everyone).
        knowledge = await retriever.knowledge_of(agent, agent.owner_id)
        assert knowledge is not None
        wide = dataclasses.replace(knowledge, top_k=20, threshold=-1.0)
        await ask(retriever, wide, paths, questions, "hybrid" if keyword_search else "vectors only")


async def ask(
    retriever: Retriever,
    knowledge: Knowledge,
    paths: dict[str, str],
    questions: list[dict[str, Any]],
    name: str,
) -> None:
    hit1 = hit5 = 0
    reciprocal: list[float] = []
    latencies: list[float] = []
    misses: list[str] = []
    for q in questions:
        started = time.perf_counter()
        passages = await retriever.retrieve(knowledge, q["question"])
        latencies.append((time.perf_counter() - started) * 1000)
        ranked: list[str] = []
        for passage in passages:  # pages in order of their best passage
            page = paths.get(str(passage.document_id), "")
            if page not in ranked:
                ranked.append(page)
        rank = ranked.index(q["expected"]) + 1 if q["expected"] in ranked else None
        hit1 += rank == 1
        hit5 += rank is not None and rank <= 5
        reciprocal.append(1 / rank if rank else 0.0)
        if rank != 1:
            misses.append(f"  rank {rank or '>20'}: {q['question']} -> {ranked[:1]}")
    n = len(questions)
    print(
        f"retrieval quality, {name}, over {n} questions (local all-MiniLM-L6-v2): "
        f"hit@1 {hit1 / n:.3f}  hit@5 {hit5 / n:.3f}  MRR {statistics.fmean(reciprocal):.3f}"
    )
    print(
        f"question -> passages, end to end (embed + search + load): "
        f"p50 {percentile(latencies, 50):.1f} ms  p99 {percentile(latencies, 99):.1f} ms"
    )
    print("questions whose page was not first:")
    print("\n".join(misses[:15]))


async def measure_latency(
    container: Container,
    sizes: list[int],
    questions: list[dict[str, Any]],
    stores: tuple[str, ...] = ("database", "pgvector"),
) -> None:
    texts = [q["question"] for q in questions] * max(1, 200 // max(1, len(questions)))
    texts = texts[:200]
    vectors = await asyncio.to_thread(LocalEmbedder().embed_documents, texts)
    await latency(container, sizes, texts, dict(zip(texts, vectors, strict=True)), stores)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=None, help="only the first N pages")
    parser.add_argument("--questions", type=int, default=None, help="only the first N")
    parser.add_argument("--sizes", default="10000,100000", help="chunk counts for latency")
    parser.add_argument(
        "--stores", default="database,pgvector", help="vector stores to measure latency on"
    )
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        help="an SQLite database the handbook is indexed in (bench/answer_eval.py --keep DIR "
        "writes DIR/en.db): copied, and only the latency measured",
    )
    args = parser.parse_args()
    questions = json.loads(QUESTIONS.read_text())[: args.questions]
    pages = handbook_pages(args.files)
    if args.files:  # a smoke run: ask only about pages that were ingested
        wanted = {p.relative_to(HANDBOOK).as_posix() for p in pages}
        questions = [q for q in questions if q["expected"] in wanted] or questions[:1]
    with tempfile.TemporaryDirectory() as tmp:
        if args.database is not None:
            for suffix in ("", "-wal", "-shm"):
                kept = Path(f"{args.database}{suffix}")
                if kept.exists():
                    shutil.copy(kept, f"{tmp}/eval.db{suffix}")
        container = await started_container(f"sqlite+aiosqlite:///{tmp}/eval.db")
        try:
            if args.database is None:
                _, paths = await ingest(container, pages)
                await evaluate(container, paths, questions)
            sizes = [int(s) for s in args.sizes.split(",") if s]
            if sizes:
                stores = tuple(args.stores.split(","))
                await measure_latency(container, sizes, questions, stores)
        finally:
            await container.close()


if __name__ == "__main__":
    asyncio.run(main())
