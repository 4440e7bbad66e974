"""The Redis-backed ingestion queue (SAQ) and the ``worker`` command's loop.

With Redis configured, API processes only enqueue; ``ezhr-graphql worker`` processes
take the jobs, so embedding load never competes with requests. A job interrupted by
a dying worker is retried by SAQ; one for a document that changed since is dropped by
the ingestion itself (revisions).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from saq import Queue, Worker

from ezhr_graphql.services.ingestion import Ingestion, IngestJob

logger = logging.getLogger(__name__)

FUNCTION = "ingest"
JOB_TIMEOUT_SECONDS = 3600
JOB_RETRIES = 3


class RedisIngestionQueue:
    def __init__(self, url: str, name: str) -> None:
        self.queue = Queue.from_url(url, name=name)
        self._connected = False

    async def _connect(self) -> None:
        if not self._connected:
            await self.queue.connect()
            self._connected = True

    async def submit(self, job: IngestJob) -> None:
        await self._connect()
        await self.queue.enqueue(
            FUNCTION,
            job=job.to_dict(),
            key=job.key,
            timeout=JOB_TIMEOUT_SECONDS,
            retries=JOB_RETRIES,
        )

    async def depth(self) -> int:
        await self._connect()
        return int(await self.queue.count("queued"))

    async def close(self) -> None:
        if self._connected:
            await self.queue.disconnect()
            self._connected = False


def build_worker(
    queue: RedisIngestionQueue, ingestion: Ingestion, concurrency: int = 1
) -> Worker[Any]:
    async def ingest(ctx: Any, *, job: dict[str, Any]) -> None:
        await ingestion.run(IngestJob.from_dict(job))

    ingest.__qualname__ = FUNCTION
    return Worker(
        queue.queue,
        functions=[(FUNCTION, ingest)],
        concurrency=concurrency,
    )


async def run_worker(
    queue: RedisIngestionQueue,
    ingestion: Ingestion,
    concurrency: int = 1,
    stop: asyncio.Event | None = None,
) -> None:
    """Work through jobs until cancelled, a signal arrives, or ``stop`` is set.
    Unfinished work left by stopped processes is queued again first."""
    await queue._connect()
    await ingestion.recover(queue)
    worker = build_worker(queue, ingestion, concurrency)
    task = asyncio.create_task(worker.start())
    try:
        if stop is None:
            await task
        else:
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
