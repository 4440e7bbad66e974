"""Planning a run: what the reply will be, decided before it streams.

The conversation's branch and the agent decide it:

- an agent with documents answers from the passages retrieved for the question:
  EXTRACTIVE, their sentences quoted (no model is built: the reply is ready at once),
  or GENERATIVE, the LLM asked with the passages fenced in its prompt, its reply
  streamed through guards;
- nothing relevant found: the agent's no-answer message, in the question's language;
- no collection, or none holding a document: the no-answer message too, unless the
  agent is for general chat (``general_chat``): then the LLM chats as it would without
  documents.

A first question is used as it is. A follow-up is condensed before retrieval: with the
LLM for a generative agent, from the words of the questions before it otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.models import (
    Agent,
    ChatMessage,
    ChatSession,
    FinishReason,
    LlmModel,
    MessageRole,
)
from ezhr_graphql.rag import ChatModel, ChatTurn, LlmSpec, ModelRegistry
from ezhr_graphql.rag.prompts import CONDENSE_INSTRUCTION, condense_request
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.services import conversation
from ezhr_graphql.services.answering.guards import Guards
from ezhr_graphql.services.answering.language import ENGLISH, detect_language
from ezhr_graphql.services.insights.matching import ApprovedAnswers
from ezhr_graphql.services.replies import answers
from ezhr_graphql.services.replies.answers import fitted
from ezhr_graphql.services.replies.events import FailureCode, ReplyError
from ezhr_graphql.services.retrieval import Retriever
from ezhr_graphql.settings import ChatSettings

__all__ = ["Found", "Plan", "Planner", "fitted"]

# Each earlier turn shown when condensing a follow-up is cut to this many characters.
CONDENSE_TURN_CHARS = 1500


@dataclass
class Plan:
    """What a run needs, read before it starts streaming."""

    session_id: uuid.UUID
    owner_id: uuid.UUID
    user_message_id: uuid.UUID
    first_exchange: bool
    question: str
    language: str = ENGLISH
    # A generated reply: the model, what it is asked, the guards on what it says.
    spec: LlmSpec | None = None
    model: ChatModel | None = None
    turns: list[ChatTurn] = field(default_factory=list)
    guards: Guards | None = None
    # With knowledge: the citations (streamed before the text, and stored with it).
    citations: list[dict[str, Any]] | None = None
    # What the reply's numbers must be found in: the cited passages and the question.
    sources: list[str] | None = None
    # Said instead of a generated reply: the quotes of an extractive answer, or the
    # no-answer message (``canned``).
    quoted: str | None = None
    canned: str | None = None
    # The relevance of the best passage retrieved (None: nothing was searched).
    best_score: float | None = None

    @property
    def said(self) -> str | None:
        """The reply's text when it is known before it streams."""
        return self.canned if self.canned is not None else self.quoted

    @property
    def finish(self) -> FinishReason:
        """How a reply known before it streams ends."""
        return FinishReason.NO_ANSWER if self.canned is not None else FinishReason.STOP


@dataclass(frozen=True, slots=True)
class Found:
    """What planning reads: the session, its agent and model, its messages, and the
    question the reply answers."""

    chat: ChatSession
    agent: Agent
    llm: LlmModel | None
    everything: list[ChatMessage]
    question_id: uuid.UUID


class Planner:
    def __init__(
        self,
        db: Database,
        models: ModelRegistry,
        settings: ChatSettings,
        secret: Callable[[str | None], str | None],
        retriever: Retriever | None = None,
        no_answer_message: str = "",
        approved: ApprovedAnswers | None = None,
    ) -> None:
        self.db = db
        self.models = models
        self.settings = settings
        self.secret = secret
        self.retriever = retriever
        self.no_answer_message = no_answer_message
        self.answers = answers.Answers(self, retriever, approved)

    async def plan(self, message_id: uuid.UUID) -> Plan:
        """What the run of reply ``message_id`` says, or asks its model.

        Raises:
            ReplyError: the reply, its agent or (for a generated reply) the agent's
                model is gone.
            LLMError: the model cannot be built, or failed condensing a follow-up;
                retrieval failed.
        """
        found = await self._read(message_id)
        branch = conversation.path_to(conversation.by_id(found.everything), found.question_id)
        question = branch[-1].content if branch else ""
        replies = [m for m in found.everything if m.role is MessageRole.ASSISTANT]
        plan = Plan(
            session_id=found.chat.id,
            owner_id=found.chat.owner_id,
            user_message_id=found.question_id,
            first_exchange=not found.chat.title and len(replies) == 1,
            question=question,
            language=detect_language(question),
        )
        await self.answers.fill(plan, found, branch)
        return plan

    async def _read(self, message_id: uuid.UUID) -> Found:
        """Raises:
        ReplyError: the reply or its agent is gone.
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
            everything = await messages.in_session(chat.id)
        reply = next((m for m in everything if m.id == message_id), None)
        if reply is None or reply.parent_id is None:
            raise ReplyError(FailureCode.INTERNAL_ERROR, "The message to answer is missing")
        return Found(chat, agent, llm, everything, reply.parent_id)

    def max_tokens(self, agent: Agent) -> int:
        """The longest reply the agent's model may write."""
        return agent.max_tokens or self.settings.max_reply_tokens

    async def model(self, plan: Plan, found: Found) -> ChatModel:
        """The agent's model, built once for the plan.

        Raises:
            ReplyError: the agent's model was deleted.
            LLMError: it cannot be built.
        """
        if plan.model is not None:
            return plan.model
        llm = found.llm
        if llm is None:
            raise ReplyError(FailureCode.LLM_UNAVAILABLE, "The agent's language model was deleted")
        spec = LlmSpec(
            provider=llm.provider,
            model_name=llm.model_name,
            base_url=llm.base_url,
            context_window=llm.context_window,
            temperature=found.agent.temperature,
            api_key=self.secret(llm.secret_ref),
            max_tokens=self.max_tokens(found.agent),
            timeout=self.settings.llm_timeout_seconds,
        )
        # Building a local model loads its weights on first use: keep that off the loop.
        if spec.provider == "local":
            model = await asyncio.to_thread(self.models.chat_model, spec)
        else:
            model = self.models.chat_model(spec)
        plan.spec, plan.model = spec, model
        return model

    async def standalone(self, model: ChatModel, branch: list[ChatMessage]) -> str:
        """The question to retrieve for: a follow-up is rewritten with the conversation
        so far, so that "and for part-timers?" finds the policy discussed before. A
        first question is used as it is: the model is not asked."""
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
