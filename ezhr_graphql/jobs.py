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
JOB_TIMEOUT_SECONDS = 6 * 3600  # a long re-embedding; liveness is the heartbeat's job
JOB_RETRIES = 3
# A job whose worker stops beating for this long is taken back and retried.
HEARTBEAT_SECONDS = 120
RECOVER_EVERY_SECONDS = 300


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
            heartbeat=HEARTBEAT_SECONDS,
        )

    async def depth(self) -> int:
        await self._connect()
        return int(await self.queue.count("queued"))

    async def close(self) -> None:
        if self._connected:
            await self.queue.disconnect()
            self._connected = False


async def _beat(job: Any) -> None:
    """Tell SAQ the job is alive while it runs (a dead worker's jobs go back)."""
    if job is None:
        return
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS / 4)
        try:
            await job.update()
        except Exception:
            logger.warning("could not beat for an ingestion job", exc_info=True)


async def _recover_forever(queue: RedisIngestionQueue, ingestion: Ingestion) -> None:
    """Queue unfinished documents again now and then: a job lost between a commit
    and its enqueue, or dropped with a dead worker, is picked up (duplicates of jobs
    still queued or running are dropped by their keys)."""
    while True:
        try:
            await ingestion.recover(queue)
        except Exception:
            logger.warning("could not recover unfinished ingestion", exc_info=True)
        await asyncio.sleep(RECOVER_EVERY_SECONDS)


def build_worker(
    queue: RedisIngestionQueue, ingestion: Ingestion, concurrency: int = 1
) -> Worker[Any]:
    async def ingest(ctx: Any, *, job: dict[str, Any]) -> None:
        beating = asyncio.create_task(_beat(ctx.get("job")))
        try:
            await ingestion.run(IngestJob.from_dict(job))
        finally:
            beating.cancel()

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
    recovering = asyncio.create_task(_recover_forever(queue, ingestion))
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
        recovering.cancel()
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, recovering, return_exceptions=True)
