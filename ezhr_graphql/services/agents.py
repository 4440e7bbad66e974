"""Agents: admins configure them; members use the ones visible to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import ConflictError, InvalidInputError, NotFoundError
from ezhr_graphql.models import Agent, AnswerMode, UnsupportedNumbers, Visibility
from ezhr_graphql.models.agent import MAX_STARTER_MESSAGES
from ezhr_graphql.models.types import DESCRIPTION_LENGTH
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import EmbeddingModelRepository, LlmModelRepository
from ezhr_graphql.repositories.base import Page
from ezhr_graphql.repositories.columns import AgentColumns
from ezhr_graphql.services import validation
from ezhr_graphql.services.actor import Actor

MAX_SYSTEM_PROMPT_LENGTH = 20_000
MAX_STARTER_MESSAGE_LENGTH = 500
MAX_TOP_K = 50
# Bounds of an agent's reply length, in tokens.
MIN_MAX_TOKENS = 16
MAX_MAX_TOKENS = 8192
# Bounds of a retention period, in days (ten years at most).
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650


@dataclass(frozen=True, slots=True)
class AgentFields:
    """Fields of an agent; ``None`` means "leave unchanged" on update."""

    name: str | None = None
    description: str | None = None
    system_prompt: str | None = None
    starter_messages: list[str] | None = None
    llm_model_id: uuid.UUID | None = None
    embedding_model_id: uuid.UUID | None = None
    temperature: float | None = None
    top_k: int | None = None
    similarity_threshold: float | None = None
    include_outdated: bool | None = None
    no_answer_message: str | None = None
    visibility: Visibility | None = None
    answer_mode: AnswerMode | None = None
    general_chat: bool | None = None
    max_tokens: int | None = None
    unsupported_numbers: UnsupportedNumbers | None = None
    retention_days: int | None = None
    # Clears the retention period: conversations are kept (retention_days is ignored).
    keep_forever: bool = False

    def cleaned(self) -> dict[str, Any]:
        values = validation.clean(
            self,
            {
                "name": validation.NAME,
                "description": validation.DESCRIPTION,
                "system_prompt": validation.texts(
                    "systemPrompt", MAX_SYSTEM_PROMPT_LENGTH, required=False
                ),
                "starter_messages": _starter_messages,
                "temperature": validation.numbers("temperature", 0.0, 2.0),
                "top_k": validation.integers("topK", 1, MAX_TOP_K),
                "similarity_threshold": validation.numbers("similarityThreshold", -1.0, 1.0),
                "include_outdated": validation.unchanged,
                "no_answer_message": validation.texts(
                    "noAnswerMessage", DESCRIPTION_LENGTH, required=False
                ),
                "visibility": validation.unchanged,
                "answer_mode": validation.unchanged,
                "general_chat": validation.unchanged,
                "max_tokens": validation.integers("maxTokens", MIN_MAX_TOKENS, MAX_MAX_TOKENS),
                "unsupported_numbers": validation.unchanged,
                "retention_days": validation.integers(
                    "retentionDays", MIN_RETENTION_DAYS, MAX_RETENTION_DAYS
                ),
                "llm_model_id": validation.unchanged,
                "embedding_model_id": validation.unchanged,
            },
        )
        if self.keep_forever:
            values["retention_days"] = None
        return values


def _starter_messages(messages: list[str]) -> list[str]:
    if len(messages) > MAX_STARTER_MESSAGES:
        raise InvalidInputError(
            "starterMessages", f"an agent has at most {MAX_STARTER_MESSAGES} starter messages"
        )
    return [validation.text("starterMessages", m, MAX_STARTER_MESSAGE_LENGTH) for m in messages]


class FollowsAgentModel(Protocol):
    async def follow_agent_model(self, agent: Agent) -> None:
        """Re-embed the agent's collections that are not on its embedding model."""


class AgentService:
    def __init__(self, session: AsyncSession, knowledge: FollowsAgentModel | None = None) -> None:
        """``knowledge`` re-embeds an agent's collections when its embedding model
        changes (a service without it cannot change that model)."""
        self.knowledge = knowledge
        self.agents = AgentRepository.from_session(session)
        self.llm_models = LlmModelRepository.from_session(session)
        self.embedding_models = EmbeddingModelRepository.from_session(session)

    async def get(self, actor: Actor, id: uuid.UUID) -> Agent:
        """Raises:
        NotFoundError: no such agent, or it is private and not the actor's.
        """
        agent = await self.agents.get_visible(id, actor.id, actor.is_admin)
        if agent is None:
            raise NotFoundError("Agent", id)
        return agent

    async def page(self, actor: Actor, first: int, after: str | None) -> Page[AgentColumns]:
        """Raises:
        InvalidInputError: ``after`` is not a cursor of this list.
        """
        return await self.agents.page_visible(actor.id, actor.is_admin, first, after)

    async def _check_references(self, values: dict[str, Any]) -> None:
        if "llm_model_id" in values and await self.llm_models.get(values["llm_model_id"]) is None:
            raise InvalidInputError("llmModelId", "llmModelId does not name an LLM model")
        if (
            "embedding_model_id" in values
            and await self.embedding_models.get(values["embedding_model_id"]) is None
        ):
            raise InvalidInputError(
                "embeddingModelId", "embeddingModelId does not name an embedding model"
            )

    async def _unique_name(self, name: str, current: Agent | None = None) -> None:
        existing = await self.agents.get_by_name(name)
        if existing is not None and existing is not current:
            raise ConflictError(f"An agent named {name!r} exists", field="name")

    async def create(self, actor: Actor, fields: AgentFields) -> Agent:
        """Raises:
        ForbiddenError, InvalidInputError, ConflictError.
        """
        actor.require_admin()
        values = fields.cleaned()
        for required in ("name", "llm_model_id", "embedding_model_id"):
            if required not in values:
                field = validation.camel(required)
                raise InvalidInputError(field, f"{field} is required")
        await self._check_references(values)
        await self._unique_name(values["name"])
        agent = self.agents.add(Agent(owner_id=actor.id, **values))
        await self.agents.flush()
        return agent

    async def update(self, actor: Actor, id: uuid.UUID, fields: AgentFields) -> Agent:
        """A new embedding model re-embeds the agent's collections in the background;
        answers use the current index until then.

        Raises:
            ForbiddenError, NotFoundError, InvalidInputError, ConflictError.
        """
        actor.require_admin()
        values = fields.cleaned()
        agent = await self.get(actor, id)
        await self._check_references(values)
        if "name" in values:
            await self._unique_name(values["name"], agent)
        for name, value in values.items():
            setattr(agent, name, value)
        await self.agents.flush()
        if "embedding_model_id" in values:
            if self.knowledge is None:
                raise RuntimeError("changing an agent's embedding model needs the knowledge")
            await self.knowledge.follow_agent_model(agent)
        return agent

    async def set_starter_messages(self, actor: Actor, id: uuid.UUID, messages: list[str]) -> Agent:
        return await self.update(actor, id, AgentFields(starter_messages=messages))

    async def delete(self, actor: Actor, id: uuid.UUID) -> Agent:
        actor.require_admin()
        agent = await self.get(actor, id)
        agent.soft_delete()
        await self.agents.flush()
        return agent
