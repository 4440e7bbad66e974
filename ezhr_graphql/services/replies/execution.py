"""One run, start to end: plan, announce, stream the model's tokens with no database
session held, then store and announce how it ended (shielded from cancellation, so a
stopped or interrupted run still stores what it produced)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from ezhr_graphql.db.errors import UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.models import MessageStatus
from ezhr_graphql.observe.metrics import TIME_TO_FIRST_TOKEN, TOKENS_STREAMED
from ezhr_graphql.pubsub import BrokerUnavailable
from ezhr_graphql.rag import LLMError
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyCitations,
    ReplyDelta,
    ReplyError,
    ReplyStarted,
)
from ezhr_graphql.services.replies.outcome import Ending, Outcomes
from ezhr_graphql.services.replies.planning import Plan, Planner
from ezhr_graphql.services.replies.state import Run
from ezhr_graphql.services.replies.titles import Titler

logger = logging.getLogger(__name__)


async def said(text: str) -> AsyncIterator[str]:
    """A fixed reply, streamed word by word like a model's."""
    for word in text.split(" "):
        yield word + " "


class RunExecutor:
    def __init__(self, planner: Planner, outcomes: Outcomes, titles: Titler) -> None:
        self.planner = planner
        self.outcomes = outcomes
        self.writer = outcomes.writer
        self.titles = titles

    async def execute(self, run: Run, done: Callable[[Run, MessageStatus], None]) -> None:
        """Generate the reply; ``done(run, status)`` once its outcome is stored."""
        # Beats for the whole run, model loading and quiet models included, so no
        # sweeper takes a live run for a dead one.
        beating = asyncio.create_task(self.outcomes.beat_forever(run.message_id))
        status, error = MessageStatus.FAILED, None
        try:
            status = await self._generate(run)
        except asyncio.CancelledError:
            error = ReplyError(
                FailureCode.INTERRUPTED, "The server stopped before the reply was finished"
            )
            raise
        except Exception as exc:
            error = _failure(run, exc)
        finally:
            run.finished = time.monotonic()
            ending = Ending(status) if error is None else Ending(MessageStatus.FAILED, error)
            try:
                # Still beating while the outcome is stored (that may wait for the
                # database): the run is alive, no sweeper may take it for dead.
                status = await asyncio.shield(self.outcomes.finish(run, ending))
            finally:
                beating.cancel()
                done(run, status)
        plan = run.plan
        if status is MessageStatus.COMPLETED and plan is not None and plan.first_exchange:
            self.titles.later(plan, run.text)

    async def _generate(self, run: Run) -> MessageStatus:
        """Plan, announce the start (and the citations), stream; how it ended."""
        plan = run.plan = await self.planner.plan(run.message_id)
        started = ReplyStarted(
            run.next_seq(), run.message_id, plan.user_message_id, plan.session_id
        )
        await self.writer.emit(run, started)
        await self.outcomes.status_changed(run, MessageStatus.STREAMING)
        if plan.citations is not None:
            await self.writer.emit(run, ReplyCitations(run.next_seq(), plan.citations))
        if run.stop_requested:  # stopped while it was being prepared
            return MessageStatus.CANCELLED
        run.streaming = asyncio.create_task(self._stream(run, plan))
        try:
            await run.streaming
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not run.stop_requested or (current is not None and current.cancelling()):
                raise
        return MessageStatus.CANCELLED if run.stop_requested else MessageStatus.COMPLETED

    async def _stream(self, run: Run, plan: Plan) -> None:
        source = plan.model.stream(plan.turns) if plan.canned is None else said(plan.canned)
        async for text in source:
            if run.first_token is None:
                run.first_token = time.monotonic()
                TIME_TO_FIRST_TOKEN.observe(run.first_token - run.started)
            TOKENS_STREAMED.inc()
            # Not cancelled mid-append: the token would be stored but never streamed,
            # and its seq skipped (a stop waits for ``emitting`` to clear).
            run.emitting = True
            try:
                run.parts.append(text)
                await self.writer.emit(run, ReplyDelta(run.next_seq(), text))
            finally:
                run.emitting = False
            if run.stop_requested:
                return


def _failure(run: Run, exc: Exception) -> ReplyError:
    """Why a run that raised ``exc`` failed, as its reply will say."""
    if isinstance(exc, ReplyError):
        return exc
    if isinstance(exc, LLMError):
        return ReplyError(FailureCode.of(exc.code), exc.message)
    if isinstance(exc, BrokerUnavailable):
        logger.warning("run %s: the broker is unavailable", run.message_id, exc_info=True)
        return ReplyError(FailureCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    if unavailable(exc):
        logger.warning("run %s: the database is unavailable", run.message_id, exc_info=True)
        return ReplyError(FailureCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    logger.exception("run %s failed", run.message_id, exc_info=exc)
    return ReplyError(FailureCode.INTERNAL_ERROR, "The reply failed unexpectedly")
