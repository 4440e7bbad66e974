"""Runs: a reply generated in the background, independent of any connection.

A run streams from the LLM with no database session held, numbering its events on
the broker (``ReplyStarted``, ``ReplyDelta``..., then ``ReplyCompleted`` or
``ReplyFailed``), and ends in a short transaction, shielded from cancellation, that
stores what it produced (see :mod:`.execution`). A stop reaches the run through the
broker, whichever process it runs in. A run whose process died is marked ``FAILED``
by the sweeper once its heartbeat goes stale (see :mod:`.recovery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from ezhr_graphql.db import Database
from ezhr_graphql.models import MessageStatus
from ezhr_graphql.observe.metrics import RUNS, RUNS_ACTIVE
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.services.replies.execution import RunExecutor
from ezhr_graphql.services.replies.outcome import Outcomes
from ezhr_graphql.services.replies.planning import Planner
from ezhr_graphql.services.replies.recovery import Recovery
from ezhr_graphql.services.replies.state import Run
from ezhr_graphql.services.replies.titles import Titler
from ezhr_graphql.services.replies.updates import SessionUpdates
from ezhr_graphql.services.replies.writer import StreamWriter
from ezhr_graphql.settings import ChatSettings

STOP_CHANNEL = "stop"


class RunManager:
    def __init__(
        self, db: Database, broker: Broker, planner: Planner, settings: ChatSettings
    ) -> None:
        self.broker = broker
        self._runs: dict[uuid.UUID, Run] = {}
        self.recovery = Recovery(db, broker, settings, lambda message_id: message_id in self._runs)
        self.updates = SessionUpdates(broker)
        self.titles = Titler(db, self.updates)
        writer = StreamWriter(broker, self.recovery, settings)
        self.executor = RunExecutor(
            planner, Outcomes(db, writer, self.updates, settings), self.titles
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Listen for stop signals and sweep runs whose process died."""
        ready = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen_for_stops(ready), name="run-stops"),
            asyncio.create_task(self.recovery.sweep_forever(), name="run-sweeper"),
        ]
        await ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for message_id in list(self._runs):
            # As a stop does: never cancelled mid-append.
            self._stop_local(message_id)
        pending = [r.task for r in self._runs.values() if r.task is not None]
        await asyncio.gather(*self._tasks, *pending, return_exceptions=True)
        await self.titles.close()

    def launch(self, message_id: uuid.UUID) -> None:
        """Start the run for an assistant message already stored as ``STREAMING``."""
        if message_id in self._runs:
            return
        run = Run(message_id)
        self._runs[message_id] = run
        RUNS_ACTIVE.inc()
        run.task = asyncio.create_task(
            self.executor.execute(run, self._done), name=f"run-{message_id}"
        )

    def _done(self, run: Run, status: MessageStatus) -> None:
        self._runs.pop(run.message_id, None)
        RUNS_ACTIVE.dec()
        RUNS.labels(status.value).inc()

    async def sweep(self) -> int:
        """Fail the replies of runs whose process died (see :meth:`Recovery.sweep`)."""
        return await self.recovery.sweep()

    async def request_stop(self, message_id: uuid.UUID) -> None:
        """Ask the run to stop, in whichever process it runs."""
        await self.broker.publish(STOP_CHANNEL, {"message_id": str(message_id)})

    def _stop_local(self, message_id: uuid.UUID) -> None:
        run = self._runs.get(message_id)
        if run is None:
            return
        run.stop_requested = True
        if run.streaming is not None and not run.emitting:
            run.streaming.cancel()

    async def _listen_for_stops(self, ready: asyncio.Event) -> None:
        signals = await self.broker.subscribe(STOP_CHANNEL)
        ready.set()
        try:
            async for message in signals:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    # Stops sent before this format spelled it messageId.
                    self._stop_local(uuid.UUID(message.get("message_id") or message["messageId"]))
        finally:
            await signals.aclose()
