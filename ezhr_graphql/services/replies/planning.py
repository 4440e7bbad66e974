"""Planning a run: what the model is asked, read before it streams.

The conversation's branch, the agent and its model; with knowledge, the passages
retrieved for the question (a follow-up condensed with the conversation first) and
their citations, or the agent's canned answer when nothing relevant is found.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.models import Agent, ChatMessage, ChatSession, LlmModel, MessageRole
from ezhr_graphql.rag import ChatModel, ChatTurn, LlmSpec, ModelRegistry
from ezhr_graphql.rag.prompts import CONDENSE_INSTRUCTION, answer_system_prompt, condense_request
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services import conversation
from ezhr_graphql.services.replies.events import FailureCode, ReplyError
from ezhr_graphql.services.retrieval import Passage, Retriever
from ezhr_graphql.settings import ChatSettings

# Each earlier turn shown when condensing a follow-up is cut to this many characters.
CONDENSE_TURN_CHARS = 1500


@dataclass
class Plan:
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


@dataclass(frozen=True, slots=True)
class _Found:
    """What planning reads: the session, its agent and model, its messages, and the
    question the reply answers."""

    chat: ChatSession
    agent: Agent
    llm: LlmModel
    everything: list[ChatMessage]
    question_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class _Grounding:
    system_prompt: str
    citations: list[dict[str, Any]] | None = None
    canned: str | None = None


class Planner:
    def __init__(
        self,
        db: Database,
        models: ModelRegistry,
        settings: ChatSettings,
        secret: Callable[[str | None], str | None],
        retriever: Retriever | None = None,
        no_answer_message: str = "",
    ) -> None:
        self.db = db
        self.models = models
        self.settings = settings
        self.secret = secret
        self.retriever = retriever
        self.no_answer_message = no_answer_message

    async def plan(self, message_id: uuid.UUID) -> Plan:
        """What the run of reply ``message_id`` asks its model.

        Raises:
            ReplyError: the reply, its agent or the agent's model is gone.
            LLMError: the model cannot be built, or failed condensing a follow-up.
        """
        found = await self._read(message_id)
        spec, model = await self._model(found.agent, found.llm)
        branch = conversation.path_to(conversation.by_id(found.everything), found.question_id)
        budget = model.context_window - self.settings.max_reply_tokens
        grounding = await self._grounding(found.agent, model, branch, budget)
        turns = conversation.history(branch, grounding.system_prompt, budget, model.count_tokens)
        replies = [m for m in found.everything if m.role is MessageRole.ASSISTANT]
        return Plan(
            session_id=found.chat.id,
            owner_id=found.chat.owner_id,
            user_message_id=found.question_id,
            spec=spec,
            turns=turns,
            model=model,
            first_exchange=not found.chat.title and len(replies) == 1,
            question=branch[-1].content if branch else "",
            citations=grounding.citations,
            canned=grounding.canned,
        )

    async def _read(self, message_id: uuid.UUID) -> _Found:
        """Raises:
        ReplyError: the reply, its agent or the agent's model is gone.
        """
        async with self.db.read() as session:
            messages = ChatMessageRepository.from_session(session)
            found = await messages.context_of(message_id)
            if found is None:
                raise ReplyError(FailureCode.INTERNAL_ERROR, "The message to answer is missing")
            chat, agent, llm = found
            if agent is None:
                raise ReplyError(
                    FailureCode.AGENT_UNAVAILABLE, "The agent of this conversation was deleted"
                )
            if llm is None:
                raise ReplyError(
                    FailureCode.LLM_UNAVAILABLE, "The agent's language model was deleted"
                )
            everything = await messages.in_session(chat.id)
        reply = next((m for m in everything if m.id == message_id), None)
        if reply is None or reply.parent_id is None:
            raise ReplyError(FailureCode.INTERNAL_ERROR, "The message to answer is missing")
        return _Found(chat, agent, llm, everything, reply.parent_id)

    async def _model(self, agent: Agent, llm: LlmModel) -> tuple[LlmSpec, ChatModel]:
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
            return spec, await asyncio.to_thread(self.models.chat_model, spec)
        return spec, self.models.chat_model(spec)

    async def _grounding(
        self, agent: Agent, model: ChatModel, branch: list[ChatMessage], budget: int
    ) -> _Grounding:
        """With knowledge, the passages retrieved for the question (a follow-up
        condensed first) in the system prompt, with their citations; or the agent's
        canned answer when nothing relevant is found."""
        knowledge = None if self.retriever is None else await self.retriever.knowledge_of(agent)
        if knowledge is None or self.retriever is None or not branch:
            return _Grounding(agent.system_prompt)
        question = await self.standalone(model, branch)
        passages = fitted(
            await self.retriever.retrieve(knowledge, question), budget // 2, model.count_tokens
        )
        citations = [p.citation() for p in passages]
        if not passages:
            canned = agent.no_answer_message or self.no_answer_message
            return _Grounding(agent.system_prompt, citations, canned)
        prompt = answer_system_prompt(agent.system_prompt, [(p.label, p.text) for p in passages])
        return _Grounding(prompt, citations)

    async def standalone(self, model: ChatModel, branch: list[ChatMessage]) -> str:
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
