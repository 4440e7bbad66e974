"""The ingestion package's pieces on their own: jobs, progress reports, chunk rows,
batched embedding and the in-process queue (no database, no model)."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
import uuid
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from ezhr_graphql.jobs import RedisIngestionQueue
from ezhr_graphql.models import DocumentStatus, EmbeddingModel
from ezhr_graphql.rag import LLMError, ModelRegistry
from ezhr_graphql.rag.parsing import Chunk, DocumentKind, ParsedDocument
from ezhr_graphql.services.ingestion import (
    Ingestion,
    IngestionQueue,
    IngestJob,
    LocalIngestionQueue,
    embedding_text,
    progress_channel,
)
from ezhr_graphql.services.ingestion.chunks import NewChunks
from ezhr_graphql.services.ingestion.embedding import Embedding
from ezhr_graphql.services.ingestion.progress import Failed, Progress
from ezhr_graphql.settings import KnowledgeSettings


def test_a_job_survives_the_trip_through_a_queue() -> None:
    model = uuid.uuid4()
    job = IngestJob.reembed(uuid.uuid4(), model)
    again = IngestJob.from_dict(job.to_dict())
    assert again == job
    assert again.key == f"collection:{job.target_id}:0:{model}"
    raw = {"kind": "document", "target_id": uuid.uuid4()}
    assert IngestJob.from_dict(raw).revision == 0


def test_progress_clears_the_error_unless_it_failed() -> None:
    ready = Progress(DocumentStatus.READY, 3, 3)
    assert ready.columns() == {
        "status": DocumentStatus.READY,
        "chunks_done": 3,
        "chunks_total": 3,
        "error_code": None,
        "error_reason": None,
    }
    failed = Progress(DocumentStatus.FAILED, error=Failed("NO_TEXT", "Nothing to index"))
    assert failed.columns()["error_code"] == "NO_TEXT"
    document_id = uuid.uuid4()
    assert failed.encode() == {
        "status": "FAILED",
        "done": 0,
        "total": 0,
        "error_code": "NO_TEXT",
        "error_reason": "Nothing to index",
    }
    assert Progress.decode(failed.encode()) == failed
    assert Progress.decode(ready.encode()) == ready
    assert Progress.decode({"status": "SHREDDED"}) is None
    assert progress_channel(document_id) == f"ingest:{document_id}"


def test_a_chunk_is_embedded_under_its_title_and_headings() -> None:
    assert embedding_text("Leave", ("Parental", ""), "Twelve weeks.") == (
        "Leave > Parental\nTwelve weeks."
    )
    assert embedding_text("", (), "Twelve weeks.") == "Twelve weeks."


def test_new_chunks_get_fresh_ids_and_rows_in_order() -> None:
    parsed = ParsedDocument(DocumentKind.MARKDOWN, [], "Handbook", None, (), {})
    chunks = [Chunk("First.", ("Leave",), None, 0), Chunk("Second.", (), 2, 1)]
    new = NewChunks.of(parsed, chunks, "Handbook")
    assert len(set(new.ids)) == 2
    assert new.texts == ["Handbook > Leave\nFirst.", "Handbook\nSecond."]
    document_id = uuid.uuid4()
    rows = new.rows(document_id)
    assert [row["id"] for row in rows] == new.ids
    assert rows[1] == {
        "id": new.ids[1],
        "document_id": document_id,
        "ordinal": 1,
        "text": "Second.",
        "heading_path": [],
        "page": 2,
    }


class FakeEmbedder:
    def __init__(self, fail_after: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_after = fail_after

    def embed_documents(self, texts: list[str]) -> Any:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise LLMError("LLM_UNAVAILABLE", "The provider is down")
        self.batches.append(texts)
        return np.ones((len(texts), 4), dtype=np.float64)


def embedding_with(embedder: FakeEmbedder, batch_size: int) -> Embedding:
    registry = SimpleNamespace(embedder=lambda spec: embedder)
    return Embedding(
        cast(ModelRegistry, registry),
        lambda ref: None,
        KnowledgeSettings(embed_batch_size=batch_size),
    )


MODEL = cast(
    EmbeddingModel,
    SimpleNamespace(provider="local", model_name="m", dimensions=4, base_url=None, secret_ref=None),
)


async def test_embedding_runs_in_batches_and_reports_each() -> None:
    embedder = FakeEmbedder()
    done: list[int] = []

    async def on_batch(count: int) -> None:
        done.append(count)

    vectors = await embedding_with(embedder, 2).embed(MODEL, ["a", "b", "c"], on_batch)
    assert embedder.batches == [["a", "b"], ["c"]]
    assert done == [2, 3]
    assert vectors.shape == (3, 4)
    assert vectors.dtype == np.float32
    empty = await embedding_with(embedder, 2).embed(MODEL, [])
    assert empty.shape == (0, 4)


class LoopWatchingEmbedder:
    """Embeds a batch only once the event loop has run meanwhile: a batch embedded on
    the loop's own thread would wait for it in vain and fail."""

    def __init__(self) -> None:
        self.loop_ran = threading.Event()
        self.threads: list[int] = []
        self.priorities: list[int] = []

    def embed_documents(self, texts: list[str]) -> Any:
        self.threads.append(threading.get_ident())
        self.priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        self.loop_ran.clear()
        if not self.loop_ran.wait(timeout=30):  # only a blocked loop gets here
            raise LLMError("LLM_ERROR", "the event loop did not run while embedding")
        return np.ones((len(texts), 4), dtype=np.float32)


async def test_embedding_runs_off_the_event_loop_and_lets_it_run() -> None:
    embedder = LoopWatchingEmbedder()
    ticks = 0
    seen: list[int] = []

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            embedder.loop_ran.set()
            await asyncio.sleep(0)

    async def on_batch(count: int) -> None:
        seen.append(ticks)

    ticker = asyncio.create_task(tick())
    try:
        vectors = await embedding_with(embedder, 2).embed(MODEL, list("abcde"), on_batch)
    finally:
        ticker.cancel()
    assert vectors.shape == (5, 4)
    assert len(embedder.threads) == 3
    assert threading.get_ident() not in embedder.threads
    if sys.platform == "linux":  # and below the loop in CPU priority
        loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert min(embedder.priorities) > loop_priority
    # The loop went on between every two batches, not only once they were all done.
    assert seen == sorted(seen)
    assert len(set(seen)) == 3


async def test_a_provider_error_becomes_a_failure_with_its_code() -> None:
    with pytest.raises(Failed) as raised:
        await embedding_with(FakeEmbedder(fail_after=1), 1).embed(MODEL, ["a", "b"])
    assert (raised.value.code, raised.value.reason) == ("LLM_UNAVAILABLE", "The provider is down")


class FakeIngestion:
    def __init__(self) -> None:
        self.ran: list[IngestJob] = []
        self.release = asyncio.Event()

    async def run(self, job: IngestJob) -> None:
        await self.release.wait()
        self.ran.append(job)
        if job.target_id == "boom":
            raise RuntimeError("a job that fails")

    async def recover(self, queue: IngestionQueue) -> int:
        return 0


async def test_the_local_queue_drops_duplicates_and_outlives_a_failing_job() -> None:
    ingestion = FakeIngestion()
    queue = LocalIngestionQueue(cast(Ingestion, ingestion))
    await queue.start()
    try:
        first = IngestJob("document", "boom", 1)
        second = IngestJob("document", str(uuid.uuid4()), 1)
        for job in (first, first, second, second):
            await queue.submit(job)
        await asyncio.sleep(0)  # the worker takes the first job
        assert await queue.depth() == 1
        ingestion.release.set()
        await asyncio.wait_for(queue.join(), 5)
        assert ingestion.ran == [first, second]
    finally:
        await queue.close()


class SideBySide:
    """An ingestion whose jobs each wait until ``width`` of them run at once."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.running = 0
        self.most = 0
        self.ran: list[IngestJob] = []
        self.all_in = asyncio.Event()
        self.settings = KnowledgeSettings(ingest_concurrency=width)

    async def run(self, job: IngestJob) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        if self.running == self.width:
            self.all_in.set()
        await self.all_in.wait()
        self.running -= 1
        self.ran.append(job)

    async def recover(self, queue: IngestionQueue) -> int:
        return 0


async def test_the_local_queue_runs_as_many_jobs_side_by_side_as_configured() -> None:
    ingestion = SideBySide(2)
    queue = LocalIngestionQueue(cast(Ingestion, ingestion), concurrency=2)
    await queue.start()
    try:
        jobs = [IngestJob("document", str(uuid.uuid4()), 1) for _ in range(5)]
        for job in jobs:
            await queue.submit(job)
        await asyncio.wait_for(queue.join(), 5)  # a lone worker would wait forever
        assert sorted(ingestion.ran, key=jobs.index) == jobs
        assert ingestion.most == 2
    finally:
        await queue.close()


async def test_run_all_runs_every_job_once_at_most_concurrency_at_a_time() -> None:
    ingestion = SideBySide(3)
    jobs = [IngestJob("document", str(uuid.uuid4()), 1) for _ in range(7)]
    heard: list[int] = []
    run_all = Ingestion.run_all
    await asyncio.wait_for(run_all(cast(Ingestion, ingestion), jobs, heard.append), 5)
    assert sorted(ingestion.ran, key=jobs.index) == jobs
    assert ingestion.most == 3
    assert heard == list(range(1, 8))
    await run_all(cast(Ingestion, ingestion), [])  # nothing to run


async def test_run_all_goes_on_past_a_failing_job() -> None:
    ingestion = FakeIngestion()
    ingestion.settings = KnowledgeSettings(ingest_concurrency=2)  # type: ignore[attr-defined]
    ingestion.release.set()
    jobs = [IngestJob("document", str(uuid.uuid4()), 1) for _ in range(4)]
    jobs.insert(1, IngestJob("document", "boom", 1))
    heard: list[int] = []
    await asyncio.wait_for(Ingestion.run_all(cast(Ingestion, ingestion), jobs, heard.append), 5)
    assert sorted(ingestion.ran, key=jobs.index) == jobs  # every job ran, once
    assert heard == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("queue_type", [LocalIngestionQueue, RedisIngestionQueue])
def test_every_queue_has_what_the_protocol_asks(queue_type: type) -> None:
    for name in ("submit", "depth", "close"):
        assert inspect.iscoroutinefunction(getattr(IngestionQueue, name))
        assert inspect.iscoroutinefunction(getattr(queue_type, name)), name
