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
from datetime import datetime, timedelta
from typing import Any

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.db.errors import SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, unavailable
from ezhr_graphql.models import ChatMessage, MessageRole, MessageStatus
from ezhr_graphql.observe.metrics import RUNS, RUNS_ACTIVE, TIME_TO_FIRST_TOKEN, TOKENS_STREAMED
from ezhr_graphql.pubsub import Broker, BrokerUnavailable, StreamEvent
from ezhr_graphql.rag import ChatModel, ChatTurn, LLMError, LlmSpec, ModelRegistry
from ezhr_graphql.rag.prompts import CONDENSE_INSTRUCTION, answer_system_prompt, condense_request
from ezhr_graphql.repositories.chat import ChatMessageRepository, ChatSessionRepository
from ezhr_graphql.services import conversation
from ezhr_graphql.services.retrieval import Passage, Retriever
from ezhr_graphql.settings import ChatSettings

logger = logging.getLogger(__name__)

STOP_CHANNEL = "stop"
# Codes of runs that end for reasons other than the model's.
STORAGE_ERROR = "STORAGE_ERROR"
INTERRUPTED = "INTERRUPTED"
TITLE_WORDS = 6
TITLE_LENGTH = 80
# Each earlier turn shown when condensing a follow-up is cut to this many characters.
CONDENSE_TURN_CHARS = 1500
# Streams of finished runs kept to publish once the broker is back, at most.
MAX_OWED = 1000


def stream_name(message_id: uuid.UUID) -> str:
    return f"message:{message_id}"


def user_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


# Columns a snapshot carries as they are (JSON-ready); ids, enums and the
# timestamp are converted explicitly.
PLAIN_FIELDS = (
    "content",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token_ms",
    "latency_ms",
    "citations",
)


def message_snapshot(message: ChatMessage) -> dict[str, Any]:
    """The stored reply as an event carries it, so that every subscriber, in any
    process, can render it without reading the database."""
    snapshot: dict[str, Any] = {name: getattr(message, name) for name in PLAIN_FIELDS}
    snapshot.update(
        id=str(message.id),
        session_id=str(message.session_id),
        parent_id=None if message.parent_id is None else str(message.parent_id),
        role=message.role.value,
        status=message.status.value,
        created_at=message.created_at.isoformat(),
    )
    return snapshot


def message_from_snapshot(snapshot: dict[str, Any]) -> ChatMessage | None:
    """The reply a snapshot describes, as a detached row (``None`` if incomplete)."""
    try:
        return ChatMessage(
            id=uuid.UUID(snapshot["id"]),
            session_id=uuid.UUID(snapshot["session_id"]),
            parent_id=None if snapshot["parent_id"] is None else uuid.UUID(snapshot["parent_id"]),
            role=MessageRole(snapshot["role"]),
            status=MessageStatus(snapshot["status"]),
            created_at=datetime.fromisoformat(snapshot["created_at"]),
            **{name: snapshot.get(name) for name in PLAIN_FIELDS},
        )
    except (KeyError, ValueError, TypeError):
        return None


@dataclass
class _Plan:
    """What a run needs, read before it starts streaming."""

    session_id: uuid.UUID
    owner_id: uuid.UUID
    user_message_id: uuid.UUID
    spec: LlmSpec
    turns: list[ChatTurn]
    model: ChatModel
    first_exchange: bool
    question: str
    # With knowledge: the passages' citations, streamed before the first token and
    # stored with the reply; ``canned`` is said instead when nothing relevant was found.
    citations: list[dict[str, Any]] | None = None
    canned: str | None = None


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
        self,
        db: Database,
        broker: Broker,
        models: ModelRegistry,
        settings: ChatSettings,
        secret: Callable[[str | None], str | None],
        retriever: Retriever | None = None,
        no_answer_message: str = "",
    ) -> None:
        self.db = db
        self.broker = broker
        self.models = models
        self.settings = settings
        self.secret = secret
        self.retriever = retriever
        self.no_answer_message = no_answer_message
        self._runs: dict[uuid.UUID, _Run] = {}
        # Ends of streams still to be published (the broker was out of reach), by
        # message: each publishes what its stream misses.
        self._owed: dict[uuid.UUID, Callable[[], Awaitable[None]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Listen for stop signals and sweep runs whose process died."""
        ready = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen_for_stops(ready), name="run-stops"),
            asyncio.create_task(self._sweep_forever(), name="run-sweeper"),
        ]
        await ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for run in list(self._runs.values()):
            run.stop_requested = True
            if run.streaming is not None:
                run.streaming.cancel()
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
        except BrokerUnavailable:
            if run.broker_lost:
                raise
            await self._restore(run)

    async def _restore(self, run: _Run) -> None:
        """Wait for the broker to come back, then give the stream every event it
        misses (all of them if it restarted empty), so that followers go on where
        they were. Waits up to half the time after which a silent run is taken for
        dead.

        Raises:
            BrokerUnavailable: it did not come back in time.
        """
        deadline = time.monotonic() + self.settings.stale_after_seconds / 2
        delay = 0.05
        while True:
            await asyncio.sleep(delay)
            try:
                await self._publish_missing(run.message_id, run.events)
                logger.info("run %s: the broker is back, stream restored", run.message_id)
                return
            except BrokerUnavailable:
                if time.monotonic() + delay > deadline:
                    run.broker_lost = True
                    raise
                delay = min(delay * 2, 1.0)

    async def _publish_missing(self, message_id: uuid.UUID, events: list[StreamEvent]) -> None:
        name = stream_name(message_id)
        last = await self.broker.last(name)
        for event in events[0 if last is None else last.seq :]:
            await self.broker.append(name, event)

    def _owe(self, message_id: uuid.UUID, publish: Callable[[], Awaitable[None]]) -> None:
        if len(self._owed) < MAX_OWED:
            self._owed[message_id] = publish

    async def _publish_owed(self) -> None:
        """Publish the ends of streams that could not be told: the broker was out of
        reach when their runs ended."""
        for message_id, publish in list(self._owed.items()):
            try:
                await publish()
            except BrokerUnavailable:
                return
            self._owed.pop(message_id, None)

    async def _execute(self, run: _Run) -> None:
        started = time.monotonic()
        first_token: float | None = None
        status = MessageStatus.FAILED
        error: LLMError | None = None
        plan: _Plan | None = None
        # Beats for the whole run, model loading and quiet models included, so no
        # sweeper takes a live run for a dead one.
        beating = asyncio.create_task(self._beat_forever(run.message_id))
        try:
            plan = await self._plan(run.message_id)
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

    async def _plan(self, message_id: uuid.UUID) -> _Plan:
        async with self.db.read() as session:
            messages = ChatMessageRepository.from_session(session)
            found = await messages.context_of(message_id)
            if found is None:
                raise LLMError("INTERNAL_ERROR", "The message to answer is missing")
            chat, agent, llm = found
            if agent is None:
                raise LLMError("AGENT_UNAVAILABLE", "The agent of this conversation was deleted")
            if llm is None:
                raise LLMError("LLM_UNAVAILABLE", "The agent's language model was deleted")
            everything = await messages.in_session(chat.id)
        reply = next((m for m in everything if m.id == message_id), None)
        if reply is None or reply.parent_id is None:
            raise LLMError("INTERNAL_ERROR", "The message to answer is missing")
        spec = LlmSpec(
            provider=llm.provider,
            model_name=llm.model_name,
            base_url=llm.base_url,
            context_window=llm.context_window,
            temperature=agent.temperature,
            api_key=self.secret(llm.secret_ref),
            max_tokens=self.settings.max_reply_tokens,
            timeout=self.settings.llm_timeout_seconds,
        )
        # Building a local model loads its weights on first use: keep that off the loop.
        if spec.provider == "local":
            model = await asyncio.to_thread(self.models.chat_model, spec)
        else:
            model = self.models.chat_model(spec)
        branch = conversation.path_to(conversation.by_id(everything), reply.parent_id)
        budget = model.context_window - self.settings.max_reply_tokens
        system_prompt = agent.system_prompt
        citations: list[dict[str, Any]] | None = None
        canned: str | None = None
        knowledge = None if self.retriever is None else await self.retriever.knowledge_of(agent)
        if knowledge is not None and self.retriever is not None and branch:
            question = await self._standalone(model, branch)
            passages = fitted(
                await self.retriever.retrieve(knowledge, question), budget // 2, model.count_tokens
            )
            citations = [p.citation() for p in passages]
            if passages:
                system_prompt = answer_system_prompt(
                    agent.system_prompt, [(p.label, p.text) for p in passages]
                )
            else:
                canned = agent.no_answer_message or self.no_answer_message
        turns = conversation.history(branch, system_prompt, budget, model.count_tokens)
        assistant_replies = [m for m in everything if m.role.value == "ASSISTANT"]
        return _Plan(
            session_id=chat.id,
            owner_id=chat.owner_id,
            user_message_id=reply.parent_id,
            spec=spec,
            turns=turns,
            model=model,
            first_exchange=not chat.title and len(assistant_replies) == 1,
            question=branch[-1].content if branch else "",
            citations=citations,
            canned=canned,
        )

    async def _standalone(self, model: ChatModel, branch: list[ChatMessage]) -> str:
        """The question to retrieve for: a follow-up is rewritten with the conversation
        so far, so that "and for part-timers?" finds the policy discussed before."""
        question = branch[-1].content
        # The newest turns that fit in half the model's context, each cut short.
        budget = model.context_window // 2 - model.count_tokens(question)
        earlier: list[tuple[str, str]] = []
        for message in reversed(branch[:-1][-6:]):
            if not message.content or message.role not in (MessageRole.USER, MessageRole.ASSISTANT):
                continue
            text = message.content[:CONDENSE_TURN_CHARS]
            budget -= model.count_tokens(text) + 4
            if budget < 0:
                break
            earlier.insert(0, ("user" if message.role is MessageRole.USER else "assistant", text))
        if not any(role == "user" for role, _ in earlier):
            return question
        rewritten = await model.complete(
            [
                ChatTurn("system", CONDENSE_INSTRUCTION),
                ChatTurn("user", condense_request(earlier, question)),
            ]
        )
        return rewritten.strip() or question

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
        plan: _Plan | None,
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
            self._owe(run.message_id, lambda: self._publish_missing(run.message_id, events))
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
        plan: _Plan | None,
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
        self, plan: _Plan, message_id: uuid.UUID, status: MessageStatus
    ) -> None:
        """Tell the owner's other tabs (lost if the broker is out of reach: it is news,
        the stream and the database hold the outcome)."""
        with contextlib.suppress(BrokerUnavailable):
            await self._publish_status(plan, message_id, status)

    async def _publish_status(
        self, plan: _Plan, message_id: uuid.UUID, status: MessageStatus
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

    async def _title(self, plan: _Plan, answer: str) -> None:
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

    # --- runs whose process died ----------------------------------------------

    async def sweep(self) -> int:
        """Mark ``STREAMING`` messages whose heartbeat is stale as ``FAILED``, with the
        text their stream carried, and end their streams."""
        cutoff = utcnow() - timedelta(seconds=self.settings.stale_after_seconds)
        async with self.db.read() as session:
            candidates = [
                m.id
                for m in await ChatMessageRepository.from_session(session).stale_streaming(cutoff)
                if m.id not in self._runs
            ]
        if not candidates:
            return 0
        endings = {message_id: await self._ending(message_id) for message_id in candidates}
        stale: list[ChatMessage] = []
        async with self.db.transaction() as session:
            messages = ChatMessageRepository.from_session(session)
            for message_id, (code, content) in endings.items():
                # Fail only what is still stale at the moment of the update: a run
                # that beat in between keeps going.
                if not await messages.fail_if_stale(message_id, cutoff):
                    continue
                message = await messages.get(message_id)
                if message is None:
                    continue
                message.status = MessageStatus.FAILED
                message.error_code = code
                if content is not None:
                    message.content = content
                stale.append(message)
        for message in stale:
            announce = self._announcer(message)
            try:
                await announce()
            except BrokerUnavailable:
                logger.warning("could not end the stream of run %s", message.id, exc_info=True)
                self._owe(message.id, announce)
        return len(stale)

    def _announcer(self, message: ChatMessage) -> Callable[[], Awaitable[None]]:
        """Ends the stream of a dead run's reply, unless it has ended already."""
        snapshot = message_snapshot(message)
        name = stream_name(message.id)

        async def announce() -> None:
            last = await self.broker.last(name)
            if last is not None and last.terminal:
                return
            words = "The reply was interrupted; please try again"
            data = {"code": INTERRUPTED, "message": words, **snapshot}
            await self.broker.append(
                name, StreamEvent((last.seq if last else 0) + 1, "failed", data)
            )

        return announce

    async def _ending(self, message_id: uuid.UUID) -> tuple[str, str | None]:
        """How a dead run's reply ends: with the code its stream already ended with (a
        run that could not store its outcome says so), else ``INTERRUPTED``; and with
        the text its stream carried (``None``: the stream is gone, keep what is
        stored)."""
        try:
            events = await self.broker.events(stream_name(message_id))
        except Exception:
            logger.warning("could not read the stream of run %s", message_id, exc_info=True)
            events = []
        if not events:
            return INTERRUPTED, None
        text = "".join(e.data["text"] for e in events if e.kind == "delta")
        last = events[-1]
        if last.kind == "failed":
            code = str(last.data.get("code") or INTERRUPTED)
            carried = last.data.get("content")
            return code, carried if isinstance(carried, str) else text
        return INTERRUPTED, text

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self._publish_owed()
                await self.sweep()
            except Exception:
                logger.warning("sweeping stale runs failed", exc_info=True)
            await asyncio.sleep(max(1.0, self.settings.stale_after_seconds / 2))


async def said(text: str) -> AsyncIterator[str]:
    """A fixed reply, streamed word by word like a model's."""
    for word in text.split(" "):
        yield word + " "


def fitted(passages: list[Passage], budget: int, count: Callable[[str], int]) -> list[Passage]:
    """The best passages whose text fits in ``budget`` tokens (at least one)."""
    kept: list[Passage] = []
    used = 0
    for passage in passages:
        cost = count(passage.text) + 8
        if kept and used + cost > budget:
            break
        kept.append(passage)
        used += cost
    return kept


def clean_title(raw: str) -> str:
    """A few words, no quotes or trailing punctuation, bounded in length."""
    words = raw.replace("\n", " ").strip().strip("\"'“”*#").split()
    title = " ".join(words[: TITLE_WORDS + 2]).rstrip(".:;,!?—-")
    return title[:TITLE_LENGTH].strip()
