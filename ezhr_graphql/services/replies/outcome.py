"""How a run ends: its outcome stored in a short transaction (tried again while the
database is out of reach), then told to its stream and to the owner's other tabs. A
reply the database does not hold is never announced as complete."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.db.errors import unavailable
from ezhr_graphql.models import ChatMessage, MessageStatus
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyCompleted,
    ReplyError,
    ReplyEvent,
    ReplyFailed,
)
from ezhr_graphql.services.replies.state import Run
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.services.replies.updates import SessionUpdates, StatusChanged
from ezhr_graphql.services.replies.writer import StreamWriter
from ezhr_graphql.settings import ChatSettings

logger = logging.getLogger(__name__)

Stored = tuple[ChatMessage | None, bool]


@dataclass(frozen=True, slots=True)
class Ending:
    """How a run meant to end: ``COMPLETED``, ``CANCELLED``, or ``FAILED`` with why."""

    status: MessageStatus
    error: ReplyError | None = None

    @classmethod
    def failed(cls, code: FailureCode, reason: str) -> Ending:
        return cls(MessageStatus.FAILED, ReplyError(code, reason))


class Outcomes:
    def __init__(
        self, db: Database, writer: StreamWriter, updates: SessionUpdates, settings: ChatSettings
    ) -> None:
        self.db = db
        self.writer = writer
        self.updates = updates
        self.settings = settings

    async def finish(self, run: Run, ending: Ending) -> MessageStatus:
        """Store the outcome, then tell the stream and the owner's other tabs; the
        status announced."""
        end = run.next_seq()  # stored with the reply, and the seq of its end
        try:
            stored, ours = await self._store_patiently(lambda: self._store(run, ending, end))
            if stored is None:
                # Erased meanwhile: its stream goes too, with what the run added since.
                await self._forget(run)
                return ending.status
        except Exception:
            logger.exception("could not store the outcome of run %s", run.message_id)
            # Never announce a reply the database does not hold: the stream says it
            # failed, with the text, and the sweeper stores both once it can.
            ending = Ending.failed(FailureCode.STORAGE_ERROR, "The reply could not be saved")
            stored, ours = None, True
        if stored is not None and not ours:
            # Ended elsewhere meanwhile (a sweeper took the run for dead while the
            # database was out of reach): announce what is stored, not what was meant.
            code = FailureCode.of(stored.error_code or FailureCode.INTERRUPTED)
            ending = Ending(stored.status, ReplyError(code, "The reply was interrupted"))
        await self._announce(run, _end_event(run, ending, stored, end), ending.status)
        return ending.status

    async def _forget(self, run: Run) -> None:
        try:
            await self.writer.broker.delete([stream_name(run.message_id)])
        except Exception:
            logger.warning("could not remove the stream of erased run %s", run.message_id)

    async def _announce(self, run: Run, end: ReplyEvent, status: MessageStatus) -> None:
        try:
            await self.writer.emit(run, end)
            await self.status_changed(run, status)
        except Exception:
            logger.exception("could not publish the end of run %s", run.message_id)
            recovery, events = self.writer.recovery, run.events
            recovery.owe(run.message_id, lambda: recovery.publish_missing(run.message_id, events))

    async def status_changed(self, run: Run, status: MessageStatus) -> None:
        """Tell the owner's other tabs (lost if the broker is out of reach)."""
        plan = run.plan
        if plan is not None:
            change = StatusChanged(plan.session_id, run.message_id, status)
            await self.updates.publish(plan.owner_id, change)

    async def _store_patiently(self, store: Callable[[], Awaitable[Stored]]) -> Stored:
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

    async def _store(self, run: Run, ending: Ending, end: int) -> Stored:
        """The reply as stored, and whether this run's outcome is what it holds
        (``False``: it had already ended)."""
        async with self.db.transaction() as session:
            stored = await ChatMessageRepository.from_session(session).get(run.message_id)
            if stored is None:
                return None, True  # erased meanwhile
            if stored.status is not MessageStatus.STREAMING:
                return stored, False
            stored.content = run.text
            stored.status = ending.status
            stored.error_code = None if ending.error is None else ending.error.code.value
            stored.stream_seq = end
            _verdict(stored, run, ending)
            stored.time_to_first_token_ms = run.milliseconds(run.first_token)
            stored.latency_ms = run.milliseconds(run.finished)
            return stored, True

    async def beat_forever(self, message_id: uuid.UUID) -> None:
        """Keep the reply's heartbeat fresh, so no sweeper takes a live run for dead."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with self.db.transaction() as session:
                    await ChatMessageRepository.from_session(session).touch(message_id, utcnow())
            except Exception:  # a missed beat only risks an early sweep
                logger.warning("heartbeat of run %s failed", message_id, exc_info=True)


def _verdict(stored: ChatMessage, run: Run, ending: Ending) -> None:
    """What the reply cites, its token counts, why it ended and how grounded it is."""
    stored.citations = run.citations or []
    model = None if run.plan is None else run.plan.model
    if model is not None:
        stored.prompt_tokens = model.usage.prompt_tokens
        stored.completion_tokens = model.usage.completion_tokens
    completed = ending.status is MessageStatus.COMPLETED
    stored.finish_reason = run.finish if completed else None
    stored.grounding = run.grounding
    stored.unsupported_spans = list(run.unsupported)
    stored.best_score = None if run.plan is None else run.plan.best_score


def _end_event(run: Run, ending: Ending, stored: ChatMessage | None, seq: int) -> ReplyEvent:
    """The stream's last event: the stored reply (read by followers if it is gone)."""
    if ending.status is not MessageStatus.FAILED:
        return ReplyCompleted(seq, stored)
    error = ending.error or ReplyError(FailureCode.INTERNAL_ERROR, "The reply failed")
    content = run.text if stored is None else stored.content
    return ReplyFailed(seq, error.code, error.reason, content, stored)
