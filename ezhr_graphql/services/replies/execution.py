"""One run, start to end: plan, announce, stream the reply with no database session
held, then store and announce how it ended (shielded from cancellation, so a stopped or
interrupted run still stores what it produced).

A reply known before it streams (quotes, the no-answer message) goes out a word a
delta. A generated one goes through its guards (see
:mod:`ezhr_graphql.services.answering.guards`); when unsupported numbers are refused it
is checked whole first, and its citations follow the check. What was streamed is what
is stored: text, citations, why it ended and whether its numbers are in its passages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from ezhr_graphql.db.errors import UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.models import FinishReason, MessageStatus
from ezhr_graphql.observe.metrics import TIME_TO_FIRST_TOKEN, TOKENS_STREAMED
from ezhr_graphql.pubsub import BrokerUnavailable
from ezhr_graphql.rag import LLMError
from ezhr_graphql.services.answering.guards import Guarded, grounding
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


_PIECE = re.compile(r"\s*\S+\s*|\s+")


def pieces(text: str) -> list[str]:
    """``text`` cut into deltas of a word each (with the spaces around it), which join
    back into it exactly: a reply known before it streams goes out as a model's does,
    and text the guards release at once (held words) as the words it is."""
    return _PIECE.findall(text)


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
        if not _checked_whole(plan):
            await self._cite(run, plan.citations)
        if run.stop_requested:  # stopped while it was being prepared
            return MessageStatus.CANCELLED
        run.streaming = asyncio.create_task(self._stream(run, plan))
        try:
            await run.streaming
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not run.stop_requested or (current is not None and current.cancelling()):
                raise
        _judge(run, plan)
        return MessageStatus.CANCELLED if run.stop_requested else MessageStatus.COMPLETED

    async def _stream(self, run: Run, plan: Plan) -> None:
        """The reply's text, streamed; ``run.finish`` says why it ended."""
        if plan.said is not None:
            run.finish = plan.finish
            await self._say(run, plan.said)
            return
        assert plan.model is not None
        assert plan.guards is not None
        guarded = Guarded(plan.model.stream(plan.turns), plan.guards)
        if _checked_whole(plan):
            await self._say_checked(run, plan, guarded)
            return
        async for text in guarded.stream():
            for piece in pieces(text):
                await self._emit(run, piece)
                if run.stop_requested:
                    return
        run.finish = guarded.finish

    async def _say_checked(self, run: Run, plan: Plan, guarded: Guarded) -> None:
        """A reply checked whole before any of it streams: its citations and text, or,
        with a number its passages lack, the no-answer message citing nothing."""
        assert plan.guards is not None
        text = "".join([piece async for piece in guarded.stream()])
        grounded, spans = grounding(text, plan.sources)
        if spans:
            run.finish = FinishReason.NO_ANSWER
            await self._cite(run, [])
            await self._say(run, plan.guards.no_answer)
            return
        run.finish, run.grounding = guarded.finish, grounded
        await self._cite(run, plan.citations)
        await self._say(run, text)

    async def _say(self, run: Run, text: str) -> None:
        for piece in pieces(text):
            await self._emit(run, piece)
            if run.stop_requested:
                return
            await asyncio.sleep(0)  # a reply ready at once must not hold up the others

    async def _cite(self, run: Run, citations: list[dict[str, Any]] | None) -> None:
        if citations is not None:
            run.citations = citations
            await self.writer.emit(run, ReplyCitations(run.next_seq(), citations))

    async def _emit(self, run: Run, text: str) -> None:
        if run.first_token is None:
            run.first_token = time.monotonic()
            TIME_TO_FIRST_TOKEN.observe(run.first_token - run.started)
        TOKENS_STREAMED.inc()
        # Not cancelled mid-append: the text would be stored but never streamed, and
        # its seq skipped (a stop waits for ``emitting`` to clear).
        run.emitting = True
        try:
            run.parts.append(text)
            await self.writer.emit(run, ReplyDelta(run.next_seq(), text))
        finally:
            run.emitting = False


def _checked_whole(plan: Plan) -> bool:
    """Whether the reply is checked whole before it streams (unsupported numbers
    refused): its citations go out with it, after the check."""
    return plan.said is None and plan.guards is not None and plan.guards.refuse


def _judge(run: Run, plan: Plan) -> None:
    """Whether the numbers of what was said are in the cited passages (not for the
    no-answer message; already known for a reply checked whole)."""
    if run.grounding is not None or plan.canned is not None or not run.text.strip():
        return
    if run.finish is FinishReason.NO_ANSWER:
        return
    run.grounding, run.unsupported = grounding(run.text, plan.sources)


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
