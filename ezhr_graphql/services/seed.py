"""Demo data for a fresh install: an admin, a local LLM, a local embedding model and
an HR agent. Running it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.models import Agent, EmbeddingModel, LlmModel, Role, User
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import (
    EmbeddingModelRepository,
    LlmModelRepository,
    NamedRepository,
)
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.security import PasswordHasher

N = TypeVar("N", Agent, EmbeddingModel, LlmModel)

DEMO_LLM = "SmolLM2 135M Instruct (local)"
DEMO_EMBEDDING = "all-MiniLM-L6-v2 (local)"
DEMO_AGENT = "HR Assistant"
DEMO_SYSTEM_PROMPT = (
    "You are the company's HR assistant. Answer employees' questions about leave, "
    "benefits, payroll and conduct from the company's own HR documents. If the documents "
    "do not answer the question, say so and suggest contacting HR."
)
DEMO_STARTERS = [
    "How many days of annual leave do I get?",
    "How do I request parental leave?",
    "When is payday?",
    "What is the code of conduct?",
]


@dataclass(frozen=True, slots=True)
class SeedResult:
    admin: User
    llm_model: LlmModel
    embedding_model: EmbeddingModel
    agent: Agent
    created: tuple[str, ...]


async def seed(
    session: AsyncSession, hasher: PasswordHasher, admin_email: str, admin_password: str
) -> SeedResult:
    created: list[str] = []
    users = UserRepository.from_session(session)
    admin = await users.get_by_email(admin_email)
    if admin is None:
        admin = users.add(
            User(
                email=admin_email.lower(),
                display_name="Administrator",
                password_hash=await hasher.hash(admin_password),
                role=Role.ADMIN,
            )
        )
        created.append("admin")
    llm = await _named(
        LlmModelRepository.from_session(session),
        LlmModel(
            name=DEMO_LLM,
            description="Small instruct model run in-process; no network needed.",
            provider="local",
            model_name="SmolLM2-135M-Instruct",
            context_window=2048,
        ),
        created,
        "llm_model",
    )
    embedding = await _named(
        EmbeddingModelRepository.from_session(session),
        EmbeddingModel(
            name=DEMO_EMBEDDING,
            description="Sentence embeddings computed in-process.",
            provider="local",
            model_name="all-MiniLM-L6-v2",
            dimensions=384,
        ),
        created,
        "embedding_model",
    )
    await session.flush()
    agent = await _named(
        AgentRepository.from_session(session),
        Agent(
            name=DEMO_AGENT,
            description="Answers questions about the company's HR policies.",
            system_prompt=DEMO_SYSTEM_PROMPT,
            starter_messages=DEMO_STARTERS,
            llm_model_id=llm.id,
            embedding_model_id=embedding.id,
            owner_id=admin.id,
        ),
        created,
        "agent",
    )
    await session.flush()
    return SeedResult(admin, llm, embedding, agent, tuple(created))


async def _named(repository: NamedRepository[N], row: N, created: list[str], label: str) -> N:
    """The live row named like ``row``, or ``row`` added (and noted in ``created``)."""
    existing = await repository.get_by_name(row.name)
    if existing is not None:
        return existing
    created.append(label)
    return repository.add(row)
