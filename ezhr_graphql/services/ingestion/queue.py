"""Where ingestion jobs wait: the queue protocol, and the embedded in-process queue.

With Redis configured, the API uses the Redis queue of :mod:`ezhr_graphql.jobs`
instead; both satisfy :class:`IngestionQueue`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from ezhr_graphql.observe.metrics import INGESTION_QUEUE_DEPTH
from ezhr_graphql.services.ingestion.jobs import IngestJob, run_logged
from ezhr_graphql.tasks import stop_task

if TYPE_CHECKING:
    from ezhr_graphql.services.ingestion.pipeline import Ingestion

logger = logging.getLogger(__name__)


class IngestionQueue(Protocol):
    async def submit(self, job: IngestJob) -> None: ...

    async def depth(self) -> int: ...

    async def close(self) -> None: ...


class LocalIngestionQueue:
    """The embedded default: ``concurrency`` background tasks in this process work
    through jobs in order; parsing and embedding run on background threads, so
    requests are never stalled."""

    def __init__(self, ingestion: Ingestion, concurrency: int = 1) -> None:
        self.ingestion = ingestion
        self.concurrency = concurrency
        self._queue: asyncio.Queue[IngestJob] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[str] = set()

    async def submit(self, job: IngestJob) -> None:
        if job.key in self._pending:
            return
        self._pending.add(job.key)
        self._queue.put_nowait(job)
        INGESTION_QUEUE_DEPTH.set(self._queue.qsize())

    async def depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"ingestion-{n}")
            for n in range(self.concurrency)
        ]
        try:
            await self.ingestion.recover(self)
        except Exception:
            logger.warning("could not recover unfinished ingestion", exc_info=True)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._pending.discard(job.key)
            INGESTION_QUEUE_DEPTH.set(self._queue.qsize())
            try:
                await run_logged(self.ingestion.run, job)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        await asyncio.gather(*(stop_task(task) for task in self._tasks))
