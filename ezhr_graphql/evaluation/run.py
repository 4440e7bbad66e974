"""Running an evaluation: the agent and the user who asks, one conversation per
question (a follow-up joins the conversation of the row before it), each reply
measured as it came.

The user who asks is found by email, or created as a member with a random password
nobody knows; its conversations stay in the database, like anyone's. A reply is a
refusal when it ended with the finish reason NO_ANSWER or, stored without a finish
reason, when its text is the agent's no-answer message in one of its languages.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from ezhr_graphql.container import Container
from ezhr_graphql.errors import DomainError
from ezhr_graphql.evaluation.asking import Answer, Asker
from ezhr_graphql.evaluation.golden import EvaluationError, GoldenQuestion
from ezhr_graphql.evaluation.matching import (
    contains_key,
    folded,
    source_matches,
    unquoted_numbers,
)
from ezhr_graphql.evaluation.metrics import Outcome, Row, summary
from ezhr_graphql.evaluation.searching import Search
from ezhr_graphql.models import (
    Agent,
    Document,
    DocumentStatus,
    FinishReason,
    MessageStatus,
    Role,
)
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.answering.language import no_answer_messages

# Each conversation's title: the golden set and the question's line, cut to fit.
TITLE_LENGTH = 200

Progress = Callable[[int, int, GoldenQuestion], None]


class AgentUnavailable(EvaluationError):
    """No such agent, nothing for it to answer from, or not one the user can chat with."""


@dataclass(frozen=True, slots=True)
class Target:
    agent_id: uuid.UUID
    name: str
    # The agent's no-answer messages, as :func:`_said` compares texts.
    no_answer: frozenset[str]


@dataclass
class Evaluation:
    agent: str
    golden_set: str
    user: str
    outcomes: list[Outcome]
    seconds: float

    def summary(self) -> Row:
        return summary(self.outcomes)

    def to_json(self) -> Row:
        return {
            "agent": self.agent,
            "golden_set": self.golden_set,
            "user": self.user,
            "seconds": round(self.seconds, 1),
            "summary": self.summary(),
            "rows": [outcome.row() for outcome in self.outcomes],
        }


async def evaluate(
    container: Container,
    questions: Sequence[GoldenQuestion],
    agent_name: str,
    *,
    user: str,
    golden_set: str = "golden set",
    progress: Progress | None = None,
) -> Evaluation:
    """Ask ``questions`` of the agent named ``agent_name`` as ``user``, in order.

    Raises:
        AgentUnavailable: no such agent, it has no indexed documents, or ``user``
            cannot chat with it.
        EvaluationError: ``user`` is not a valid email address.
    """
    started = time.perf_counter()
    target = await _target(container, agent_name)
    actor = await _evaluation_user(container, user)
    await _check_visible(container, target, actor)
    asker = Asker(container, actor, target.agent_id)
    search = Search(container, target.agent_id, actor.id)
    documents: dict[str, tuple[str, str]] = {}
    outcomes: list[Outcome] = []
    session_id: uuid.UUID | None = None
    earlier: list[str] = []  # the conversation's questions so far
    for number, question in enumerate(questions, start=1):
        if progress is not None:
            progress(number, len(questions), question)
        if session_id is None or not question.follow_up:
            title = f"{golden_set}:{question.line}"[-TITLE_LENGTH:]
            session_id = await asker.open_session(title)
            earlier = []
        answer = await asker.ask(session_id, question.question)
        documents.update(await _documents(container, answer.citations, documents))
        outcome = measure(question, answer, documents, target.no_answer)
        searched = await search.documents(question.question, earlier)
        outcomes.append(searched_outcome(outcome, searched))
        earlier.append(question.question)
    return Evaluation(agent_name, golden_set, actor.email, outcomes, time.perf_counter() - started)


def _said(text: str) -> str:
    return re.sub(r"\s+", " ", folded(text)).strip()


async def _target(container: Container, name: str) -> Target:
    async with container.db.read() as session:
        agent = await AgentRepository.from_session(session).get_by_name(name)
        if agent is None:
            known = list(await session.scalars(select(Agent.name).order_by(Agent.name).limit(8)))
            if not known:
                raise AgentUnavailable(
                    "this database has no agents: run 'ezhr-graphql seed' (or 'serve'), "
                    "then 'ezhr-graphql ingest PATH' to give the agent documents"
                )
            raise AgentUnavailable(f"no agent named {name!r} (agents: {', '.join(known)})")
        collections = await CollectionRepository.from_session(session).of_agent(agent.id)
        ready = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(
                Document.collection_id.in_([c.id for c in collections]),
                Document.status == DocumentStatus.READY,
            )
        )
    if not ready:
        raise AgentUnavailable(
            f"agent {name!r} has no indexed documents to answer from: load them with "
            f"'ezhr-graphql ingest PATH --agent {name!r}'"
        )
    messages = no_answer_messages(
        agent.no_answer_message, container.settings.knowledge.default_no_answer_message
    )
    said = {_said(m) for m in [*messages.values(), agent.no_answer_message] if m.strip()}
    return Target(agent.id, agent.name, frozenset(said))


async def _evaluation_user(container: Container, email: str) -> Actor:
    """The user named ``email``; a new member when there is none (with a random
    password: nobody signs in as it)."""
    async with container.db.transaction() as session:
        user = await UserRepository.from_session(session).get_by_email(email.strip().lower())
        if user is None:
            try:
                registered = await container.services(session).users.register(
                    email, secrets.token_urlsafe(32), "Answer evaluation", Role.MEMBER
                )
            except DomainError as exc:
                raise EvaluationError(f"--user {email!r}: {exc.message}") from None
            user = registered.user
        return Actor.of(user)


async def _check_visible(container: Container, target: Target, actor: Actor) -> None:
    async with container.db.read() as session:
        agents = AgentRepository.from_session(session)
        if await agents.get_visible(target.agent_id, actor.id, actor.is_admin) is None:
            raise AgentUnavailable(
                f"agent {target.name!r} is private: {actor.email} "
                "cannot chat with it (name its owner with --user, or make it public)"
            )


async def _documents(
    container: Container, citations: list[dict[str, Any]], known: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """File name and title of the cited documents not in ``known``, by ID."""
    wanted: set[uuid.UUID] = set()
    for citation in citations:
        key = str(citation.get("documentId", ""))
        if key and key not in known:
            try:
                wanted.add(uuid.UUID(key))
            except ValueError:
                continue
    if not wanted:
        return {}
    async with container.db.read() as session:
        rows = await session.execute(
            select(Document.id, Document.filename, Document.title).where(Document.id.in_(wanted))
        )
        return {str(id): (filename, title or "") for id, filename, title in rows}


def first_source(question: GoldenQuestion, documents: Sequence[tuple[str, str]]) -> int | None:
    """Position (from 1) of the first of ``documents`` (file name, title) that is one
    of the question's expected sources; None: none is."""
    return next(
        (
            position
            for position, (filename, title) in enumerate(documents, start=1)
            if any(source_matches(s, filename, title) for s in question.sources)
        ),
        None,
    )


def searched_outcome(outcome: Outcome, searched: list[tuple[str, str]]) -> Outcome:
    """``outcome`` with what the search found (file name and title, best first)."""
    rank = first_source(outcome.question, searched)
    names = [filename or title for filename, title in searched]
    return dataclasses.replace(outcome, searched=names, search_rank=rank)


def measure(
    question: GoldenQuestion,
    answer: Answer,
    documents: dict[str, tuple[str, str]],
    no_answer: frozenset[str] = frozenset(),
) -> Outcome:
    """How ``answer`` measures against ``question``; ``documents``: file name and
    title of each cited document, by ID."""
    cited: dict[str, tuple[str, str]] = {}
    for citation in answer.citations:
        key = str(citation.get("documentId", ""))
        if key not in cited:
            cited[key] = documents.get(key, ("", str(citation.get("title") or "")))
    rank = first_source(question, list(cited.values()))
    message, text = answer.message, answer.text
    completed = answer.status is MessageStatus.COMPLETED
    finish = None if message is None else message.finish_reason
    refused = completed and (
        finish is FinishReason.NO_ANSWER if finish is not None else _said(text) in no_answer
    )
    quotes = [str(c.get("quote") or "") for c in answer.citations]
    return Outcome(
        question=question,
        status=answer.status,
        reply=text,
        cited=[filename or title for filename, title in cited.values()],
        rank=rank,
        refused=refused,
        finish_reason=finish,
        grounding=None if message is None else message.grounding,
        unsupported_spans=list((message.unsupported_spans if message else None) or []),
        unquoted_numbers=unquoted_numbers(text, quotes) if completed else [],
        key_found=contains_key(text, question.keys) if question.keys else None,
        error=answer.error,
        ttft_server_ms=None if message is None else message.time_to_first_token_ms,
        ttft_client_ms=answer.first_delta_ms,
    )
