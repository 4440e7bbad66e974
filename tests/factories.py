"""Rows for tests, created through the services (so the same rules apply)."""

from __future__ import annotations

import uuid

from ezhr_graphql.container import Container
from ezhr_graphql.models import (
    Agent,
    AnswerMode,
    ChatSession,
    Role,
    UnsupportedNumbers,
    Visibility,
)
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.agents import AgentFields
from tests.conftest import Person


def actor(person: Person, role: Role = Role.MEMBER) -> Actor:
    return Actor(id=person.id, role=role, email=person.email)


async def make_agent(
    container: Container,
    admin: Person,
    name: str | None = None,
    visibility: Visibility = Visibility.PUBLIC,
    llm: str = "scripted?tokens=12",
    provider: str = "scripted",
    system_prompt: str = "",
    *,
    answer_mode: AnswerMode = AnswerMode.GENERATIVE,
    general_chat: bool = True,
    max_tokens: int | None = None,
    unsupported_numbers: UnsupportedNumbers = UnsupportedNumbers.FLAG,
) -> Agent:
    """An agent on its own LLM and embedding model; by default a scripted LLM whose
    script is ``llm`` (see ezhr_graphql.rag.scripted).

    By default it is a generative agent that chats without documents, so that the
    tests of runs (streams, stops, failures) see the model's tokens; an agent as the
    API creates one answers EXTRACTIVE and, without documents, says its no-answer
    message (``answer_mode=AnswerMode.EXTRACTIVE, general_chat=False``)."""
    who = actor(admin, Role.ADMIN)
    suffix = uuid.uuid4().hex[:6]
    async with container.db.transaction() as session:
        services = container.services(session)
        llm = await services.llm_models.create(
            who, {"name": f"llm-{suffix}", "provider": provider, "model_name": llm}
        )
        embedding = await services.embedding_models.create(
            who,
            {"name": f"emb-{suffix}", "provider": "local", "model_name": "mini", "dimensions": 8},
        )
        return await services.agents.create(
            who,
            AgentFields(
                name=name or f"agent-{suffix}",
                llm_model_id=llm.id,
                embedding_model_id=embedding.id,
                visibility=visibility,
                system_prompt=system_prompt,
                answer_mode=answer_mode,
                general_chat=general_chat,
                max_tokens=max_tokens,
                unsupported_numbers=unsupported_numbers,
            ),
        )


async def make_sessions(
    container: Container, owner: Person, agent_id: uuid.UUID, count: int, *, titled: bool = True
) -> list[ChatSession]:
    async with container.db.transaction() as session:
        service = container.services(session).chat_sessions
        return [
            await service.create(actor(owner), agent_id, f"session {i}" if titled else None)
            for i in range(count)
        ]
