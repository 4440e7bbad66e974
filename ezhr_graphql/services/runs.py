"""Runs: a reply generated in the background, independent of any connection.

A run streams from the LLM with no database session held, numbering its events on
the broker (``started``, ``delta``..., then ``completed`` or ``failed``), and ends in
a short transaction, shielded from cancellation, that stores what it produced. A
stop reaches the run through the broker, whichever process it runs in. A run whose
process died is marked ``FAILED`` by the sweeper once its heartbeat goes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.models import ChatMessage, MessageStatus
from ezhr_graphql.observe.metrics import RUNS, RUNS_ACTIVE, TIME_TO_FIRST_TOKEN, TOKENS_STREAMED
from ezhr_graphql.pubsub import Broker, BrokerUnavailable, StreamEvent, StreamLost
from ezhr_graphql.rag import ChatTurn, LLMError
from ezhr_graphql.repositories.chat import ChatMessageRepository, ChatSessionRepository
from ezhr_graphql.services.planning import Plan, Planner
from ezhr_graphql.services.recovery import INTERRUPTED, STORAGE_ERROR, Recovery
from ezhr_graphql.services.streams import message_snapshot, stream_name, user_channel
from ezhr_graphql.settings import ChatSettings

logger = logging.getLogger(__name__)

STOP_CHANNEL = "stop"
TITLE_WORDS = 6
TITLE_LENGTH = 80


@dataclass
class _Run:
    message_id: uuid.UUID
    task: asyncio.Task[None] | None = None
    streaming: asyncio.Task[None] | None = None
    stop_requested: bool = False
    seq: int = 0
    parts: list[str] = field(default_factory=list)
    # Every event emitted (numbered from 1), to rebuild the stream should the broker
    # lose it: Redis keeps nothing on disk, and a restart empties it.
    events: list[StreamEvent] = field(default_factory=list)
    # The broker stayed out of reach for longer than the run could wait.
    broker_lost: bool = False
    # A token's event is being added to the stream: a stop waits for it (see stream()).
    emitting: bool = False


class RunManager:
    def __init__(
        self, db: Database, broker: Broker, planner: Planner, settings: ChatSettings
    ) -> None:
        self.db = db
        self.broker = broker
        self.settings = settings
        self.planner = planner
        self._runs: dict[uuid.UUID, _Run] = {}
        self.recovery = Recovery(db, broker, settings, lambda message_id: message_id in self._runs)
        self._background: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------

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
            # As a stop does: never cancelled mid-append (see stream() in _execute).
            self._stop_local(message_id)
        pending = [r.task for r in self._runs.values() if r.task is not None]
        pending += list(self._background)
        await asyncio.gather(*self._tasks, *pending, return_exceptions=True)

    # --- starting and stopping -----------------------------------------------

    def launch(self, message_id: uuid.UUID) -> None:
        """Start the run for an assistant message already stored as ``STREAMING``."""
        if message_id in self._runs:
            return
        run = _Run(message_id)
        self._runs[message_id] = run
        RUNS_ACTIVE.inc()
        run.task = asyncio.create_task(self._execute(run), name=f"run-{message_id}")

    async def sweep(self) -> int:
        """Fail the replies of runs whose process died (see :meth:`Recovery.sweep`)."""
        return await self.recovery.sweep()

    async def request_stop(self, message_id: uuid.UUID) -> None:
        """Ask the run to stop, in whichever process it runs."""
        await self.broker.publish(STOP_CHANNEL, {"messageId": str(message_id)})

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
                    self._stop_local(uuid.UUID(message["messageId"]))
        finally:
            await signals.aclose()

    # --- the run itself --------------------------------------------------------

    async def _emit(self, run: _Run, kind: str, data: dict[str, Any]) -> None:
        """Number an event and add it to the run's stream.

        Raises:
            BrokerUnavailable: the broker stayed out of reach too long.
        """
        run.seq += 1
        event = StreamEvent(run.seq, kind, data)
        run.events.append(event)
        try:
            await self.broker.append(stream_name(run.message_id), event)
        except BrokerUnavailable as exc:
            if run.broker_lost:
                raise
            lost = isinstance(exc, StreamLost)
            if lost:
                # The broker restarted empty since the last append, and its client
                # reconnected without a word: the stream lacks its beginning.
                logger.warning("run %s: the broker lost its stream", run.message_id)
            await self._restore(run, wait=not lost)

    async def _restore(self, run: _Run, *, wait: bool = True) -> None:
        """Give the stream every event it misses (all of them if the broker restarted
        empty), so that followers go on where they were; ``wait``: for the broker to
        come back first. Waits up to half the time after which a silent run is taken
        for dead.

        Raises:
            BrokerUnavailable: it did not come back in time.
        """
        deadline = time.monotonic() + self.settings.stale_after_seconds / 2
        delay = 0.05 if wait else 0.0
        while True:
            await asyncio.sleep(delay)
            delay = max(delay, 0.05)
            try:
                await self.recovery.publish_missing(run.message_id, run.events)
                logger.info("run %s: the broker is back, stream restored", run.message_id)
                return
            except BrokerUnavailable:
                if time.monotonic() + delay > deadline:
                    run.broker_lost = True
                    raise
                delay = min(delay * 2, 1.0)

    async def _execute(self, run: _Run) -> None:
        started = time.monotonic()
        first_token: float | None = None
        status = MessageStatus.FAILED
        error: LLMError | None = None
        plan: Plan | None = None
        # Beats for the whole run, model loading and quiet models included, so no
        # sweeper takes a live run for a dead one.
        beating = asyncio.create_task(self._beat_forever(run.message_id))
        try:
            plan = await self.planner.plan(run.message_id)
            await self._emit(
                run,
                "started",
                {
                    "messageId": str(run.message_id),
                    "userMessageId": str(plan.user_message_id),
                    "sessionId": str(plan.session_id),
                },
            )
            await self._status_changed(plan, run.message_id, MessageStatus.STREAMING)
            if plan.citations is not None:
                await self._emit(run, "citations", {"citations": plan.citations})

            async def stream() -> None:
                nonlocal first_token
                source = plan.model.stream(plan.turns) if plan.canned is None else said(plan.canned)
                async for text in source:
                    if first_token is None:
                        first_token = time.monotonic()
                        TIME_TO_FIRST_TOKEN.observe(first_token - started)
                    TOKENS_STREAMED.inc()
                    # Not cancelled mid-append: the token would be stored but never
                    # streamed, and its seq skipped (found by bench/load.py).
                    run.emitting = True
                    try:
                        run.parts.append(text)
                        await self._emit(run, "delta", {"text": text})
                    finally:
                        run.emitting = False
                    if run.stop_requested:
                        return

            if run.stop_requested:  # stopped while it was being prepared
                status = MessageStatus.CANCELLED
            else:
                run.streaming = asyncio.create_task(stream())
                try:
                    await run.streaming
                    stopped = run.stop_requested
                    status = MessageStatus.CANCELLED if stopped else MessageStatus.COMPLETED
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if not run.stop_requested or (current is not None and current.cancelling()):
                        raise
                    status = MessageStatus.CANCELLED
        except LLMError as exc:
            error = exc
        except BrokerUnavailable:
            logger.warning("run %s: the broker is unavailable", run.message_id, exc_info=True)
            error = LLMError(SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
        except asyncio.CancelledError:
            error = LLMError("INTERRUPTED", "The server stopped before the reply was finished")
            raise
        except Exception as exc:
            if unavailable(exc):
                logger.warning("run %s: the database is unavailable", run.message_id, exc_info=True)
                error = LLMError(SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
            else:
                logger.exception("run %s failed", run.message_id)
                error = LLMError("INTERNAL_ERROR", "The reply failed unexpectedly")
        finally:
            finished = time.monotonic()
            if error is not None:
                status = MessageStatus.FAILED
            try:
                # Still beating while the outcome is stored (that may wait for the
                # database): the run is alive, no sweeper may take it for dead.
                status = await asyncio.shield(
                    self._finish(run, plan, status, error, started, first_token, finished)
                )
            finally:
                beating.cancel()
                self._runs.pop(run.message_id, None)
                RUNS_ACTIVE.dec()
                RUNS.labels(status.value).inc()
        if status is MessageStatus.COMPLETED and plan is not None and plan.first_exchange:
            self._in_background(self._title(plan, "".join(run.parts)))

    async def _beat_forever(self, message_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            await self._heartbeat(message_id)

    async def _heartbeat(self, message_id: uuid.UUID) -> None:
        try:
            async with self.db.transaction() as session:
                await ChatMessageRepository.from_session(session).touch(message_id, utcnow())
        except Exception:  # a missed beat only risks an early sweep
            logger.warning("heartbeat of run %s failed", message_id, exc_info=True)

    async def _finish(
        self,
        run: _Run,
        plan: Plan | None,
        status: MessageStatus,
        error: LLMError | None,
        started: float,
        first_token: float | None,
        finished: float,
    ) -> MessageStatus:
        """Store the outcome, then tell the stream and the owner's other tabs; the
        status announced."""
        content = "".join(run.parts)
        try:
            stored, ours = await self._store_patiently(
                lambda: self._store(
                    run, plan, status, error, content, started, first_token, finished
                )
            )
        except Exception:
            logger.exception("could not store the outcome of run %s", run.message_id)
            # Never announce a reply the database does not hold: the stream says it
            # failed, with the text, and the sweeper stores both once it can.
            error = LLMError(STORAGE_ERROR, "The reply could not be saved")
            status = MessageStatus.FAILED
            stored, ours = None, True
        if stored is not None and not ours:
            # Ended elsewhere meanwhile (a sweeper took the run for dead while the
            # database was out of reach): announce what is stored, not what was meant.
            status = stored.status
            error = LLMError(stored.error_code or INTERRUPTED, "The reply was interrupted")
        snapshot = message_snapshot(stored) if stored is not None else {"content": content}
        try:
            if status is MessageStatus.FAILED:
                code = error.code if error else "INTERNAL_ERROR"
                text = error.message if error else "The reply failed"
                await self._emit(run, "failed", {"code": code, "message": text, **snapshot})
            else:
                await self._emit(run, "completed", {"message": snapshot})
            if plan is not None:
                await self._status_changed(plan, run.message_id, status)
        except Exception:
            logger.exception("could not publish the end of run %s", run.message_id)
            events = run.events
            self.recovery.owe(
                run.message_id, lambda: self.recovery.publish_missing(run.message_id, events)
            )
        return status

    async def _store_patiently(
        self, store: Callable[[], Awaitable[tuple[ChatMessage | None, bool]]]
    ) -> tuple[ChatMessage | None, bool]:
        """``store()``, tried again while the database is out of reach (the reply
        waits in memory) for up to half the time after which sweepers take a silent
        run for dead; any other failure is tried three times.

        Raises:
            Exception: what the last attempt raised.
        """
        deadline = time.monotonic() + self.settings.stale_after_seconds / 2
        attempt = 0
        while True:
            try:
                return await store()
            except Exception as exc:
                attempt += 1
                delay = min(0.2 * 2 ** (attempt - 1), 2.0)
                if attempt >= 3 and (not unavailable(exc) or time.monotonic() + delay > deadline):
                    raise
                logger.warning("storing a run's outcome failed; retrying", exc_info=True)
                await asyncio.sleep(delay)

    async def _store(
        self,
        run: _Run,
        plan: Plan | None,
        status: MessageStatus,
        error: LLMError | None,
        content: str,
        started: float,
        first_token: float | None,
        finished: float,
    ) -> tuple[ChatMessage | None, bool]:
        """The reply as stored, and whether this run's outcome is what it holds
        (``False``: it had already ended)."""
        async with self.db.transaction() as session:
            stored = await ChatMessageRepository.from_session(session).get(run.message_id)
            if stored is None:
                return None, True  # deleted meanwhile
            if stored.status is not MessageStatus.STREAMING:
                return stored, False
            stored.content = content
            stored.status = status
            stored.error_code = None if error is None else error.code
            if plan is not None:
                stored.citations = plan.citations or []
                stored.prompt_tokens = plan.model.usage.prompt_tokens
                stored.completion_tokens = plan.model.usage.completion_tokens
            stored.time_to_first_token_ms = (
                None if first_token is None else round((first_token - started) * 1000)
            )
            stored.latency_ms = round((finished - started) * 1000)
            return stored, True

    async def _status_changed(
        self, plan: Plan, message_id: uuid.UUID, status: MessageStatus
    ) -> None:
        """Tell the owner's other tabs (lost if the broker is out of reach: it is news,
        the stream and the database hold the outcome)."""
        with contextlib.suppress(BrokerUnavailable):
            await self._publish_status(plan, message_id, status)

    async def _publish_status(
        self, plan: Plan, message_id: uuid.UUID, status: MessageStatus
    ) -> None:
        await self.broker.publish(
            user_channel(plan.owner_id),
            {
                "type": "status",
                "sessionId": str(plan.session_id),
                "messageId": str(message_id),
                "status": status.value,
            },
        )

    # --- titles -------------------------------------------------------------

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _title(self, plan: Plan, answer: str) -> None:
        """Name the conversation after its first exchange."""
        try:
            raw = await plan.model.complete(
                [
                    ChatTurn(
                        "system",
                        f"Write a title of at most {TITLE_WORDS} words for this conversation. "
                        "Reply with the title only.",
                    ),
                    ChatTurn("user", f"Question: {plan.question}\nAnswer: {answer[:500]}"),
                ]
            )
            title = clean_title(raw) or clean_title(plan.question)
            if not title:
                return
            async with self.db.transaction() as session:
                chat = await ChatSessionRepository.from_session(session).get(plan.session_id)
                if chat is None or chat.title:
                    return
                chat.title = title
            await self.broker.publish(
                user_channel(plan.owner_id),
                {"type": "title", "sessionId": str(plan.session_id), "title": title},
            )
        except Exception:
            logger.warning("could not title session %s", plan.session_id, exc_info=True)


async def said(text: str) -> AsyncIterator[str]:
    """A fixed reply, streamed word by word like a model's."""
    for word in text.split(" "):
        yield word + " "


def clean_title(raw: str) -> str:
    """A few words, no quotes or trailing punctuation, bounded in length."""
    words = raw.replace("\n", " ").strip().strip("\"'“”*#").split()
    title = " ".join(words[: TITLE_WORDS + 2]).rstrip(".:;,!?—-")
    return title[:TITLE_LENGTH].strip()
