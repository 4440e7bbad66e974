"""Demo data for a fresh install: an admin, a local LLM, a local embedding model, an HR
agent that answers extractively, and sample HR policies for it to answer from (in
English and Vietnamese, shipped in ``ezhr_graphql.samples``). Running it again changes
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.models import Agent, AnswerMode, EmbeddingModel, LlmModel, Role, User
from ezhr_graphql.repositories.agent import AgentRepository
from ezhr_graphql.repositories.ai_model import (
    EmbeddingModelRepository,
    LlmModelRepository,
    NamedRepository,
)
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services.actor import Actor
from ezhr_graphql.services.knowledge import CollectionFields, DocumentFields, KnowledgeService
from ezhr_graphql.services.security import PasswordHasher

N = TypeVar("N", Agent, EmbeddingModel, LlmModel)

DEMO_LLM = "SmolLM2 135M Instruct (local)"
DEMO_EMBEDDING = "all-MiniLM-L6-v2 (local)"
DEMO_AGENT = "HR Assistant"
# The demo agent's relevance floor for the local embedding model (all-MiniLM-L6-v2),
# on which a passage about another subject scores up to about 0.45 against a
# question, and one that answers it mostly over 0.5.
LOCAL_SIMILARITY_THRESHOLD = 0.5
DEMO_SYSTEM_PROMPT = (
    "You are the company's HR assistant. Answer employees' questions about leave, "
    "benefits, payroll and conduct from the company's own HR documents. If the documents "
    "do not answer the question, say so and suggest contacting HR."
)
# Each answered by the sample policies.
DEMO_STARTERS = [
    "How many days of annual leave do I get?",
    "Tôi được nghỉ phép năm bao nhiêu ngày?",
    "How do I request leave?",
    "When is payday?",
]
SAMPLE_COLLECTION = "Sample HR policies"
SAMPLE_PACKAGE = "ezhr_graphql.samples"
SAMPLE_FILES = ("annual-leave-policy.md", "chinh-sach-nghi-phep.md")


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
            # Sentences of the cited passages, no model: the local LLM is optional.
            answer_mode=AnswerMode.EXTRACTIVE,
            similarity_threshold=LOCAL_SIMILARITY_THRESHOLD,
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


@dataclass(frozen=True, slots=True)
class SamplesResult:
    """What seeding the samples did: ``created`` as in :class:`SeedResult`, and a line
    for each sample that was there already."""

    created: tuple[str, ...]
    report: tuple[str, ...]


def sample_documents() -> list[tuple[str, bytes]]:
    """The sample policies shipped with the package: (file name, bytes)."""
    folder = resources.files(SAMPLE_PACKAGE)
    return [(name, folder.joinpath(name).read_bytes()) for name in SAMPLE_FILES]


async def seed_samples(knowledge: KnowledgeService, seeded: SeedResult) -> SamplesResult:
    """Give the demo agent the sample policies to answer from: the collection "Sample
    HR policies" on the demo embedding model, attached to the agent, holding both
    samples (indexed once the transaction commits, by the services' queue).

    Only for the agent this seed created: an agent that was already there keeps the
    collections it was given (an existing install never gets the samples, and
    samples an administrator removed never come back).
    """
    if "agent" not in seeded.created:
        return SamplesResult((), ())
    # The seed acts for the administrator it seeded (whose role may have changed since).
    admin = Actor(id=seeded.admin.id, role=Role.ADMIN, email=seeded.admin.email)
    created: list[str] = []
    collection = await knowledge.collections.get_by_name(SAMPLE_COLLECTION)
    if collection is None:
        collection = await knowledge.create_collection(
            admin,
            CollectionFields(
                name=SAMPLE_COLLECTION,
                description="Sample leave and working hours policies; replace them.",
                embedding_model_id=seeded.embedding_model.id,
            ),
        )
        created.append("sample_collection")
    await knowledge.set_agent_collections(admin, seeded.agent.id, [collection.id])
    report: list[str] = []
    new = 0
    for name, data in sample_documents():
        uploaded = await knowledge.upload(admin, collection.id, name, data, DocumentFields())
        if uploaded.duplicate:
            report.append(f"already there: sample {name}")
        else:
            new += 1
    if new:
        created.append("sample_documents")
    return SamplesResult(tuple(created), tuple(report))
