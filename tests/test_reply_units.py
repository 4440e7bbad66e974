"""The services behind a reply, each on its own: MessageService (what is stored, and
that a run starts only once it is committed), Planner (what the model is asked) and
RunManager (the typed events of a run's stream, and what is stored at its end).

They run on the suite's database with the scripted LLM and the in-memory broker; the
model is wrapped so that the turns it receives are asserted directly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from ezhr_graphql.container import Container
from ezhr_graphql.db import utcnow
from ezhr_graphql.errors import ConflictError, NotFoundError
from ezhr_graphql.models import AnswerMode, ChatMessage, FinishReason, MessageRole, MessageStatus
from ezhr_graphql.pubsub import BrokerUnavailable, MemoryBroker, StreamEvent
from ezhr_graphql.rag import ChatModel, ChatTurn, LlmSpec, ModelRegistry
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services.messages import MessageService, Sent
from ezhr_graphql.services.replies import updates
from ezhr_graphql.services.replies.events import (
    FailureCode,
    ReplyCitations,
    ReplyCompleted,
    ReplyDelta,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
    decode,
    decoded,
    encode,
)
from ezhr_graphql.services.replies.execution import pieces
from ezhr_graphql.services.replies.planning import Planner
from ezhr_graphql.services.replies.recovery import Recovery
from ezhr_graphql.services.replies.runs import RunManager
from ezhr_graphql.services.replies.streams import stream_name
from ezhr_graphql.services.replies.titles import fragment_of, question_title
from ezhr_graphql.services.retrieval import Knowledge, Passage
from tests.conftest import PeopleFactory, Person
from tests.factories import actor, make_agent, make_sessions

# --- fakes at the adapter boundary ---------------------------------------------------


class RecordingModel:
    """A chat model that records every request before passing it on."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.context_window = inner.context_window
        self.usage = inner.usage
        self.streamed: list[list[ChatTurn]] = []
        self.completed: list[list[ChatTurn]] = []

    def stream(self, turns: Sequence[ChatTurn]) -> AsyncIterator[str]:
        self.streamed.append(list(turns))
        return self.inner.stream(turns)

    async def complete(self, turns: Sequence[ChatTurn]) -> str:
        self.completed.append(list(turns))
        return await self.inner.complete(turns)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class RecordingModels(ModelRegistry):
    """The registry of models, keeping each chat model it builds."""

    def __init__(self) -> None:
        super().__init__(allow_scripted=True)
        self.built: list[RecordingModel] = []

    def chat_model(self, spec: LlmSpec) -> ChatModel:
        model = RecordingModel(super().chat_model(spec))
        self.built.append(model)
        return model


@dataclass
class FakeRuns:
    """Where MessageService starts and stops runs."""

    launched: list[uuid.UUID] = field(default_factory=list)
    stopped: list[uuid.UUID] = field(default_factory=list)

    def launch(self, message_id: uuid.UUID) -> None:
        self.launched.append(message_id)

    async def request_stop(self, message_id: uuid.UUID) -> None:
        self.stopped.append(message_id)


def passage(text: str, title: str) -> Passage:
    return Passage(uuid.uuid4(), uuid.uuid4(), title, (), None, text, 0.9)


@dataclass
class FakeRetriever:
    """Knowledge that answers with fixed passages (none: nothing relevant)."""

    passages: list[Passage]
    questions: list[str] = field(default_factory=list)
    readers: list[uuid.UUID] = field(default_factory=list)

    async def knowledge_of(self, agent: Any, reader_id: uuid.UUID) -> Knowledge:
        self.readers.append(reader_id)
        return Knowledge(agent.id, [], top_k=4, threshold=0.0)

    async def retrieve(self, knowledge: Knowledge, question: str) -> list[Passage]:
        self.questions.append(question)
        return self.passages


# --- set-up ----------------------------------------------------------------------------


@dataclass
class Conversation:
    container: Container
    member: Person
    session_id: uuid.UUID


async def conversation(
    container: Container,
    people: PeopleFactory,
    script: str = "scripted?tokens=6",
    prompt: str = "",
    **agent_fields: Any,
) -> Conversation:
    """A member's untitled session with a new agent (see ``make_agent`` for
    ``agent_fields``)."""
    admin, member = await people.admin(), await people.member()
    agent = await make_agent(container, admin, llm=script, system_prompt=prompt, **agent_fields)
    (chat,) = await make_sessions(container, member, agent.id, 1, titled=False)
    return Conversation(container, member, chat.id)


async def send(talk: Conversation, runs: FakeRuns, text: str, client_id: str | None = None) -> Sent:
    """Send ``text`` through MessageService in a transaction of its own."""
    container = talk.container
    async with container.db.transaction() as session:
        service = MessageService(session, container.settings.chat, runs)
        return await service.send(
            actor(talk.member), talk.session_id, text, client_id or str(uuid.uuid4())
        )


async def answer(talk: Conversation, reply: ChatMessage, text: str) -> None:
    """Store ``text`` as the finished reply (as a run would)."""
    async with talk.container.db.transaction() as session:
        row = await session.get(ChatMessage, reply.id)
        assert row is not None
        row.content, row.status = text, MessageStatus.COMPLETED


def planner(container: Container, models: ModelRegistry, retriever: Any = None) -> Planner:
    return Planner(
        container.db,
        models,
        container.settings.chat,
        lambda _: None,
        retriever=retriever,
        no_answer_message="Ask HR: the handbook does not say.",
    )


# --- MessageService ----------------------------------------------------------------------


async def test_a_sent_question_starts_its_run_only_once_it_is_committed(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    runs = FakeRuns()
    async with container.db.transaction() as session:
        service = MessageService(session, container.settings.chat, runs)
        sent = await service.send(actor(talk.member), talk.session_id, "Leave?", "k1")
        assert runs.launched == []  # not before the commit: the run could not read it
    assert runs.launched == [sent.reply.id]
    assert sent.reply.status is MessageStatus.STREAMING
    assert sent.reply.parent_id == sent.user_message.id


async def test_a_question_rolled_back_starts_no_run(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    runs = FakeRuns()

    async def send_then_fail() -> None:
        async with container.db.transaction() as session:
            service = MessageService(session, container.settings.chat, runs)
            await service.send(actor(talk.member), talk.session_id, "Leave?", "k1")
            raise RuntimeError("something failed after the send")

    with pytest.raises(RuntimeError, match="after the send"):
        await send_then_fail()
    assert runs.launched == []
    async with container.db.read() as session:
        assert await ChatMessageRepository.from_session(session).in_session(talk.session_id) == []


async def test_a_retried_question_starts_nothing_new(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    runs = FakeRuns()
    first = await send(talk, runs, "Leave?", "same-key")
    again = await send(talk, runs, "Leave?", "same-key")
    assert again.created is False
    assert again.reply.id == first.reply.id
    assert runs.launched == [first.reply.id]


async def test_stopping_asks_the_run_only_for_a_reply_being_generated(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    runs = FakeRuns()
    sent = await send(talk, runs, "Leave?")
    async with container.db.read() as session:
        service = MessageService(session, container.settings.chat, runs)
        await service.stop(actor(talk.member), sent.reply.id)
        with pytest.raises(NotFoundError):
            await service.stop(actor(await people.member()), sent.reply.id)
    assert runs.stopped == [sent.reply.id]
    await answer(talk, sent.reply, "Done.")
    async with container.db.read() as session:
        service = MessageService(session, container.settings.chat, runs)
        with pytest.raises(ConflictError):
            await service.stop(actor(talk.member), sent.reply.id)
    assert runs.stopped == [sent.reply.id]


# --- Planner ------------------------------------------------------------------------------


async def test_the_model_is_asked_the_branch_under_the_agents_prompt(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people, prompt="You are the HR assistant.")
    runs = FakeRuns()
    first = await send(talk, runs, "How many days of annual leave?")
    await answer(talk, first.reply, "Twenty days.")
    follow_up = await send(talk, runs, "And for part-timers?")
    models = RecordingModels()
    plan = await planner(container, models).plan(follow_up.reply.id)
    assert [(t.role, t.content) for t in plan.turns] == [
        ("system", "You are the HR assistant."),
        ("user", "How many days of annual leave?"),
        ("assistant", "Twenty days."),
        ("user", "And for part-timers?"),
    ]
    assert plan.question == "And for part-timers?"
    assert plan.first_exchange is False
    # Without knowledge nothing is condensed: the model was not asked anything yet.
    assert models.built[0].completed == []


async def test_a_first_question_goes_to_retrieval_as_it_is_without_the_model(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    sent = await send(talk, FakeRuns(), "How many days of annual leave?")
    retriever = FakeRetriever([passage("Staff get twenty days of annual leave.", "Leave")])
    models = RecordingModels()
    plan = await planner(container, models, retriever).plan(sent.reply.id)
    assert retriever.questions == ["How many days of annual leave?"]
    # Retrieval is for the member who asks: their attributes decide what they may read.
    assert retriever.readers == [talk.member.id]
    # Nothing to condense: the model is asked nothing before it answers.
    (model,) = models.built
    assert model.completed == []
    assert plan.guards is not None
    assert plan.guards.citations == 1
    system = plan.turns[0].content
    assert '<passage id="1">' in system
    assert "Staff get twenty days of annual leave." in system


async def test_an_extractive_agent_builds_no_model_and_condenses_follow_ups_itself(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(
        container, people, answer_mode=AnswerMode.EXTRACTIVE, general_chat=False
    )
    runs = FakeRuns()
    leave = passage("Full-time staff get twenty days of annual leave a year.", "Leave")
    first = await send(talk, runs, "How many days of annual leave do I get?")
    retriever = FakeRetriever([leave])
    models = RecordingModels()
    plan = await planner(container, models, retriever).plan(first.reply.id)
    assert plan.quoted == (
        "According to the documents:\n"
        "- “Full-time staff get twenty days of annual leave a year.” [1]"
    )
    assert plan.citations == [leave.citation()]
    await answer(talk, first.reply, plan.quoted)
    follow_up = await send(talk, runs, "And for part-timers?")
    part_time = passage("Part-time staff accrue 1 day of annual leave a month.", "Leave")
    retriever.passages = [part_time]
    plan = await planner(container, models, retriever).plan(follow_up.reply.id)
    # The follow-up carries the words of the question before it, with no model.
    assert retriever.questions[-1] == "How many days of annual leave do I get? And for part-timers?"
    assert models.built == []
    assert plan.model is None
    assert plan.quoted is not None
    assert "“Part-time staff accrue 1 day of annual leave a month.” [1]" in plan.quoted


async def test_an_extractive_agent_with_nothing_that_answers_says_so_citing_nothing(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(
        container, people, answer_mode=AnswerMode.EXTRACTIVE, general_chat=False
    )
    sent = await send(talk, FakeRuns(), "Quel est le salaire du PDG ?")
    retriever = FakeRetriever([passage("Staff get twenty days of annual leave.", "Leave")])
    plan = await planner(container, RecordingModels(), retriever).plan(sent.reply.id)
    assert plan.canned == "Ask HR: the handbook does not say."
    assert plan.citations == []
    assert plan.quoted is None


async def test_a_follow_up_is_condensed_with_the_conversation_before_retrieval(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    runs = FakeRuns()
    first = await send(talk, runs, "How many days of annual leave?")
    await answer(talk, first.reply, "Twenty days.")
    follow_up = await send(talk, runs, "And for part-timers?")
    retriever = FakeRetriever([passage("Part-time staff accrue leave pro rata.", "Leave policy")])
    models = RecordingModels()
    plan = await planner(container, models, retriever).plan(follow_up.reply.id)
    (condense,) = models.built[0].completed
    request = condense[-1].content
    assert "How many days of annual leave?" in request
    assert "Twenty days." in request
    assert "And for part-timers?" in request
    # The standalone question is what retrieval got, and the passage what the model gets.
    assert retriever.questions == ["How many days of annual leave? And for part-timers?"]
    assert plan.turns[0].role == "system"
    assert "Part-time staff accrue leave pro rata." in plan.turns[0].content
    assert plan.citations is not None
    assert [c["quote"] for c in plan.citations] == ["Part-time staff accrue leave pro rata."]
    assert plan.canned is None


async def test_with_nothing_relevant_the_agent_says_its_no_answer_message(
    container: Container, people: PeopleFactory
) -> None:
    # Not for general chat: with no document to answer from, it would chat instead.
    talk = await conversation(container, people, general_chat=False)
    sent = await send(talk, FakeRuns(), "What is the CEO's salary?")
    models = RecordingModels()
    plan = await planner(container, models, FakeRetriever([])).plan(sent.reply.id)
    assert plan.citations == []
    assert plan.canned == "Ask HR: the handbook does not say."
    # A first question is not condensed: the model is asked nothing at all.
    assert models.built[0].completed == []


# --- what a reply streams, what a session is named ------------------------------------


def test_a_reply_known_in_advance_streams_in_several_small_deltas() -> None:
    text = "According to the documents:\n- “You may use annual leave for any reason.” [1]"
    deltas = pieces(text)
    assert len(deltas) >= 3
    assert "".join(deltas) == text


def test_titles_come_from_the_question_never_from_the_reply() -> None:
    assert question_title("How many hours of annual leave do I earn?") == (
        "How many hours of annual leave do I earn"
    )
    assert question_title("hi! can I roll over my leave into next year and how much?") == (
        "Can I roll over my leave into next year and…"
    )
    assert question_title("Cho tôi hỏi, nghỉ phép năm bao nhiêu ngày?") == (
        "Nghỉ phép năm bao nhiêu ngày"
    )
    reply = "The life insurance policy is a 20% policy with a maximum of $100,000."
    assert fragment_of("life insurance policy", reply)
    assert not fragment_of("Life insurance cover", reply)


# --- RunManager ------------------------------------------------------------------------------


@dataclass
class Runs:
    manager: RunManager
    broker: MemoryBroker
    models: RecordingModels

    async def events(self, message_id: uuid.UUID) -> list[ReplyEvent]:
        return [decode(e) for e in await self.broker.events(stream_name(message_id))]

    async def first_delta(self, message_id: uuid.UUID) -> None:
        async for batch in self.broker.read(stream_name(message_id), 0):
            if any(e.kind == "delta" for e in batch):
                return

    @staticmethod
    async def stored(container: Container, message_id: uuid.UUID) -> ChatMessage:
        async with container.db.read() as session:
            row = await session.get(ChatMessage, message_id)
        assert row is not None
        return row

    async def finished(self, container: Container, message_id: uuid.UUID) -> ChatMessage:
        for _ in range(500):
            async with container.db.read() as session:
                row = await session.get(ChatMessage, message_id)
            assert row is not None
            if row.status is not MessageStatus.STREAMING:
                return row
            await asyncio.sleep(0.02)
        raise AssertionError("the run did not end")


@pytest.fixture
async def runs(container: Container) -> AsyncIterator[Runs]:
    broker, models = MemoryBroker(), RecordingModels()
    manager = RunManager(container.db, broker, planner(container, models), container.settings.chat)
    await manager.start()
    yield Runs(manager, broker, models)
    await manager.close()
    await models.aclose()


async def test_a_run_streams_typed_events_and_stores_what_it_streamed(
    container: Container, people: PeopleFactory, runs: Runs
) -> None:
    talk = await conversation(container, people, "scripted?tokens=5", "Be brief.")
    sent = await send(talk, FakeRuns(), "Annual leave?")
    runs.manager.launch(sent.reply.id)
    stored = await runs.finished(container, sent.reply.id)
    events = await runs.events(sent.reply.id)
    started, *deltas, end = events
    assert started == ReplyStarted(1, sent.reply.id, sent.user_message.id, talk.session_id)
    assert all(isinstance(d, ReplyDelta) for d in deltas)
    # The guards release text word by word as they clear it (not one delta a token).
    assert len(deltas) >= 3
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(end, ReplyCompleted)
    assert end.message is not None
    text = "".join(d.text for d in deltas)  # type: ignore[union-attr]
    assert end.message.content == stored.content == text == "You asked: Annual leave? — "
    assert stored.status is MessageStatus.COMPLETED
    assert stored.finish_reason is FinishReason.STOP
    assert stored.grounding is None  # no passages: nothing to check against
    assert stored.stream_seq == end.seq == len(events)
    (model,) = runs.models.built
    assert model.streamed == [[ChatTurn("system", "Be brief."), ChatTurn("user", "Annual leave?")]]


async def test_a_failing_model_ends_the_run_with_its_typed_code_and_the_text_so_far(
    container: Container, people: PeopleFactory, runs: Runs
) -> None:
    talk = await conversation(container, people, "scripted?tokens=8&fail_after=3&error=429")
    sent = await send(talk, FakeRuns(), "Annual leave?")
    runs.manager.launch(sent.reply.id)
    stored = await runs.finished(container, sent.reply.id)
    end = (await runs.events(sent.reply.id))[-1]
    assert isinstance(end, ReplyFailed)
    assert end.code is FailureCode.LLM_RATE_LIMITED
    assert stored.status is MessageStatus.FAILED
    assert stored.error_code == "LLM_RATE_LIMITED"
    assert end.content == stored.content
    assert len(stored.content.split()) == 3
    assert stored.stream_seq == end.seq


async def test_a_stopped_run_ends_cancelled_with_its_partial_text(
    container: Container, people: PeopleFactory, runs: Runs
) -> None:
    talk = await conversation(container, people, "scripted?tokens=400&delay_ms=5")
    sent = await send(talk, FakeRuns(), "Annual leave?")
    runs.manager.launch(sent.reply.id)
    await runs.first_delta(sent.reply.id)
    await runs.manager.request_stop(sent.reply.id)
    stored = await runs.finished(container, sent.reply.id)
    events = await runs.events(sent.reply.id)
    assert stored.status is MessageStatus.CANCELLED
    assert isinstance(events[-1], ReplyCompleted)
    streamed = "".join(e.text for e in events if isinstance(e, ReplyDelta))
    assert stored.content == streamed
    assert 0 < len(streamed.split()) < 400


async def test_a_run_with_knowledge_streams_its_citations_before_the_text(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people, "scripted?tokens=3")
    sent = await send(talk, FakeRuns(), "Annual leave?")
    leave = passage("Staff get twenty days of annual leave.", "Leave policy")
    broker, models = MemoryBroker(), RecordingModels()
    plans = planner(container, models, FakeRetriever([leave]))
    manager = RunManager(container.db, broker, plans, container.settings.chat)
    await manager.start()
    try:
        manager.launch(sent.reply.id)
        helper = Runs(manager, broker, models)
        stored = await helper.finished(container, sent.reply.id)
        events = await helper.events(sent.reply.id)
    finally:
        await manager.close()
    assert isinstance(events[1], ReplyCitations)
    assert events[1].citations == stored.citations
    assert isinstance(events[2], ReplyDelta)
    (model,) = models.built
    system = model.streamed[0][0]
    assert system.role == "system"
    assert "Staff get twenty days of annual leave." in system.content
    assert stored.role is MessageRole.ASSISTANT


# --- stream format, and the sweep of runs whose process died ---------------------------


def test_events_written_before_the_snake_case_format_are_still_read() -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    started = StreamEvent(
        1, "started", {"messageId": ids[0], "userMessageId": ids[1], "sessionId": ids[2]}
    )
    failed = StreamEvent(
        3, "failed", {"code": "LLM_TIMEOUT", "message": "Too slow", "content": "Partial"}
    )
    unknown = StreamEvent(2, "reaction", {"emoji": "+1"})
    first, end = decoded([started, unknown, failed])
    assert first == ReplyStarted(1, *(uuid.UUID(i) for i in ids))
    assert end == ReplyFailed(3, FailureCode.LLM_TIMEOUT, "Too slow", "Partial")
    # and a failure that kept no words gets those of its code
    assert decode(StreamEvent(4, "failed", {"code": "INTERRUPTED"})).reason == (  # type: ignore[union-attr]
        FailureCode.INTERRUPTED.reason
    )
    old = {"type": "status", "sessionId": ids[2], "messageId": ids[0], "status": "COMPLETED"}
    assert updates.decode(old) == updates.StatusChanged(
        uuid.UUID(ids[2]), uuid.UUID(ids[0]), MessageStatus.COMPLETED
    )


async def stale_reply(talk: Conversation) -> Sent:
    """A reply whose run's process died: STREAMING, its heartbeat long gone."""
    sent = await send(talk, FakeRuns(), "Annual leave?")
    async with talk.container.db.transaction() as session:
        row = await session.get(ChatMessage, sent.reply.id)
        assert row is not None
        row.updated_at = utcnow() - timedelta(days=1)
    return sent


class Unreadable(MemoryBroker):
    """A broker whose streams cannot be read now (Redis out of reach)."""

    async def events(self, stream: str) -> list[StreamEvent]:
        raise BrokerUnavailable("out of reach")


class RestartedBeforeTheEnd(MemoryBroker):
    """A broker that restarted empty after the sweeper read a stream."""

    async def last(self, stream: str) -> StreamEvent | None:
        self._streams.pop(stream, None)
        return None


async def test_a_dead_runs_reply_ends_after_its_streams_last_event(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    sent = await stale_reply(talk)
    broker = MemoryBroker()
    for event in [ReplyStarted(1, sent.reply.id, sent.user_message.id, talk.session_id)] + [
        ReplyDelta(seq, f"t{seq} ") for seq in (2, 3, 4)
    ]:
        await broker.append(stream_name(sent.reply.id), encode(event))
    recovery = Recovery(container.db, broker, container.settings.chat, lambda _: False)
    assert await recovery.sweep() == 1
    end = decode((await broker.events(stream_name(sent.reply.id)))[-1])
    assert isinstance(end, ReplyFailed)
    assert (end.seq, end.code, end.content) == (5, FailureCode.INTERRUPTED, "t2 t3 t4 ")
    stored = await Runs.stored(container, sent.reply.id)
    assert (stored.status, stored.stream_seq, stored.content) == (
        MessageStatus.FAILED,
        5,
        "t2 t3 t4 ",
    )


async def test_a_stream_that_cannot_be_read_is_not_guessed_at(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    sent = await stale_reply(talk)
    recovery = Recovery(container.db, Unreadable(), container.settings.chat, lambda _: False)
    assert await recovery.sweep() == 0
    stored = await Runs.stored(container, sent.reply.id)
    assert stored.status is MessageStatus.STREAMING  # swept once the stream can be read


async def test_a_broker_that_restarted_empty_before_the_end_still_gets_it(
    container: Container, people: PeopleFactory
) -> None:
    talk = await conversation(container, people)
    sent = await stale_reply(talk)
    broker = RestartedBeforeTheEnd()
    for seq in (1, 2, 3):
        await broker.append(stream_name(sent.reply.id), encode(ReplyDelta(seq, "x ")))
    recovery = Recovery(container.db, broker, container.settings.chat, lambda _: False)
    assert await recovery.sweep() == 1
    # The end went into the empty stream at seq 1 (a later one would be refused as a
    # gap, and owed for ever); the stored reply keeps the seq after what it streamed.
    (end,) = await broker.events(stream_name(sent.reply.id))
    assert (end.kind, end.seq) == ("failed", 1)
    assert (await Runs.stored(container, sent.reply.id)).stream_seq == 4
    assert recovery._owed == {}


async def test_an_end_still_owed_holds_back_none_of_the_others(
    container: Container, people: PeopleFactory
) -> None:
    recovery = Recovery(container.db, MemoryBroker(), container.settings.chat, lambda _: False)
    published: list[str] = []

    async def still_unreachable() -> None:
        raise BrokerUnavailable("out of reach")

    async def fine() -> None:
        published.append("second")

    first, second = uuid.uuid4(), uuid.uuid4()
    recovery.owe(first, still_unreachable)
    recovery.owe(second, fine)
    await recovery.publish_owed()
    assert published == ["second"]
    assert list(recovery._owed) == [first]
