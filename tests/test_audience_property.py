"""A property of retrieval, on the embedded store and on pgvector, with the keyword leg
on (SQLite or PostgreSQL, whichever the suite runs on): whatever the users' attributes
and the documents' and collections' audiences, every passage a question retrieves (so
every citation) is of a document the asker may read, and the filter applies before
the top k: a scoped user still gets ``top_k`` passages when they may read that many.

One corpus per store (documents of chunks whose words a question shares, random
vectors); each example draws audiences, outdated flags, a user's attributes and a
question, and checks what comes back against an oracle written here, apart from the
SQL that decides it in the product.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import insert, update

from ezhr_graphql.container import Container
from ezhr_graphql.models import (
    Agent,
    AudienceAttribute,
    Collection,
    Document,
    DocumentChunk,
    DocumentStatus,
    EmbeddingModel,
    EmploymentType,
)
from ezhr_graphql.repositories.audience import AudienceRepository
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.services.attributes import Attributes
from ezhr_graphql.services.retrieval import Retriever
from ezhr_graphql.vectors import PgVectorStore, TableVectorStore, VectorRows, Vectors
from tests.conftest import PeopleFactory
from tests.factories import make_agent

DIMS = 16
TOP_K = 4
COLLECTIONS = 2
DOCUMENTS = 12  # spread over the collections
CHUNKS = 4  # per document
WORDS = ("leave", "holiday", "salary", "bonus", "overtime", "remote", "travel", "visa")
POOLS: dict[AudienceAttribute, tuple[str, ...]] = {
    AudienceAttribute.COUNTRY: ("VN", "US", "SG"),
    AudienceAttribute.OFFICE: ("Hanoi", "Austin"),
    AudienceAttribute.DEPARTMENT: ("HR", "Engineering"),
    AudienceAttribute.EMPLOYMENT_TYPE: ("FULL_TIME", "PART_TIME"),
    AudienceAttribute.GROUP: ("a", "b", "c"),
}
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Audience = Mapping[AudienceAttribute, frozenset[str]]


@pytest.fixture
async def corpus(
    container: Container, people: PeopleFactory, store: TableVectorStore | PgVectorStore
) -> AsyncIterator[Corpus]:
    """Built once for the test, shared by its examples."""
    built = await build_corpus(container, people, store)
    yield built
    for collection in built.collections:
        await store.delete_collection(built.model, collection)


class Asking(Retriever):
    """A retriever whose question vector is set beforehand."""

    query: Vectors

    async def embed(self, model: EmbeddingModel, question: str) -> Vectors:
        return self.query


@dataclass
class Corpus:
    model: uuid.UUID
    agent: uuid.UUID
    reader: uuid.UUID
    collections: list[uuid.UUID]
    documents: list[uuid.UUID]
    collection_of: dict[uuid.UUID, uuid.UUID]


async def build_corpus(
    container: Container, people: PeopleFactory, store: TableVectorStore | PgVectorStore
) -> Corpus:
    admin, reader = await people.admin(), await people.member()
    agent = await make_agent(container, admin)
    model = EmbeddingModel(
        name=f"m-{uuid.uuid4().hex[:6]}", provider="local", model_name="m", dimensions=DIMS
    )
    rng = np.random.default_rng(13)
    async with container.db.transaction() as session:
        session.add(model)
        await session.flush()
        collections = [
            Collection(name=f"c{i}-{uuid.uuid4().hex[:6]}", embedding_model_id=model.id)
            for i in range(COLLECTIONS)
        ]
        session.add_all(collections)
        await session.flush()
        await CollectionRepository.from_session(session).set_for_agent(
            agent.id, [c.id for c in collections]
        )
        await session.execute(
            update(Agent).where(Agent.id == agent.id).values(top_k=TOP_K, similarity_threshold=-1.0)
        )
    documents, collection_of = [], {}
    for i in range(DOCUMENTS):
        collection = collections[i % COLLECTIONS].id
        document = await _document(container, store, model.id, collection, rng)
        documents.append(document)
        collection_of[document] = collection
    return Corpus(
        model.id, agent.id, reader.id, [c.id for c in collections], documents, collection_of
    )


async def _document(
    container: Container,
    store: TableVectorStore | PgVectorStore,
    model_id: uuid.UUID,
    collection_id: uuid.UUID,
    rng: np.random.Generator,
) -> uuid.UUID:
    document = uuid.uuid4()
    chunks = [uuid.uuid4() for _ in range(CHUNKS)]
    async with container.db.transaction() as session:
        session.add(
            Document(
                id=document,
                collection_id=collection_id,
                filename=f"{document}.md",
                kind="markdown",
                size_bytes=1,
                content_hash=document.hex,
                title=f"Policy {document.hex[:6]}",
                status=DocumentStatus.READY,
            )
        )
        await session.flush()
        words = [" ".join(rng.choice(WORDS, size=6)) for _ in chunks]
        await session.execute(
            insert(DocumentChunk),
            [
                {
                    "id": c,
                    "document_id": document,
                    "ordinal": o,
                    "text": f"About {w}.",
                    "heading_path": [],
                }
                for o, (c, w) in enumerate(zip(chunks, words, strict=True))
            ],
        )
    vectors = rng.standard_normal((CHUNKS, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    await store.add(model_id, VectorRows(document, collection_id, chunks, vectors))
    return document


# --- what an example draws, and the oracle ----------------------------------------


def audiences() -> st.SearchStrategy[Audience]:
    """Most attributes unconstrained, some constrained to one or two values."""
    return st.fixed_dictionaries(
        {
            attribute: st.one_of(
                st.just(frozenset()), st.frozensets(st.sampled_from(pool), min_size=1, max_size=2)
            )
            for attribute, pool in POOLS.items()
        }
    )


def users() -> st.SearchStrategy[dict[AudienceAttribute, frozenset[str]]]:
    """A value of each attribute or none; any of the groups."""
    single = {
        attribute: st.one_of(
            st.just(frozenset()), st.sampled_from(pool).map(lambda v: frozenset({v}))
        )
        for attribute, pool in POOLS.items()
        if attribute is not AudienceAttribute.GROUP
    }
    groups = {
        AudienceAttribute.GROUP: st.frozensets(st.sampled_from(POOLS[AudienceAttribute.GROUP]))
    }
    return st.fixed_dictionaries({**single, **groups})


def admits(audience: Audience, held: Audience) -> bool:
    """The rule, as the issue states it: every constrained attribute holds one of the
    user's values."""
    return all(not values or values & held[attribute] for attribute, values in audience.items())


def attributes(held: Audience) -> Attributes:
    def one(attribute: AudienceAttribute) -> str | None:
        return next(iter(held[attribute]), None)

    kind = one(AudienceAttribute.EMPLOYMENT_TYPE)
    return Attributes(
        country=one(AudienceAttribute.COUNTRY),
        office=one(AudienceAttribute.OFFICE),
        department=one(AudienceAttribute.DEPARTMENT),
        employment_type=None if kind is None else EmploymentType(kind),
        groups=tuple(sorted(held[AudienceAttribute.GROUP])),
    )


@dataclass
class World:
    document_audiences: list[Audience]
    collection_audiences: list[Audience]
    outdated: list[bool]
    user: dict[AudienceAttribute, frozenset[str]]
    question: str
    seed: int


worlds = st.builds(
    World,
    document_audiences=st.lists(audiences(), min_size=DOCUMENTS, max_size=DOCUMENTS),
    collection_audiences=st.lists(audiences(), min_size=COLLECTIONS, max_size=COLLECTIONS),
    outdated=st.lists(
        st.sampled_from((False, False, False, True)), min_size=DOCUMENTS, max_size=DOCUMENTS
    ),
    user=users(),
    question=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    seed=st.integers(0, 2**32 - 1),
)


async def apply(container: Container, corpus: Corpus, world: World) -> set[uuid.UUID]:
    """Store the world's audiences, flags and attributes; the documents the oracle
    says the user may read."""
    async with container.db.transaction() as session:
        audiences = AudienceRepository.from_session(session)
        for document, audience, outdated in zip(
            corpus.documents, world.document_audiences, world.outdated, strict=True
        ):
            await audiences.set_document(document, {a: sorted(v) for a, v in audience.items()})
            await session.execute(
                update(Document).where(Document.id == document).values(outdated=outdated)
            )
        for collection, audience in zip(
            corpus.collections, world.collection_audiences, strict=True
        ):
            await audiences.set_collection(collection, {a: sorted(v) for a, v in audience.items()})
        await container.services(session).users.set_attributes(
            corpus.reader, attributes(world.user)
        )
    of_collection = dict(zip(corpus.collections, world.collection_audiences, strict=True))
    return {
        document
        for document, audience, outdated in zip(
            corpus.documents, world.document_audiences, world.outdated, strict=True
        )
        if not outdated
        and admits(audience, world.user)
        and admits(of_collection[corpus.collection_of[document]], world.user)
    }


@given(world=worlds)
@PROPERTY
async def test_every_passage_is_of_a_document_the_asker_may_read(
    container: Container,
    store: TableVectorStore | PgVectorStore,
    corpus: Corpus,
    world: World,
) -> None:
    readable = await apply(container, corpus, world)
    query = np.random.default_rng(world.seed).standard_normal(DIMS).astype(np.float32)
    async with container.db.read() as session:
        agent = await session.get(Agent, corpus.agent)
    assert agent is not None
    for keyword_search in (True, False):
        retriever = Asking(
            container.db,
            store,
            container.models,
            container.settings.llm_secret,
            keyword_search=keyword_search,
        )
        retriever.query = query / np.linalg.norm(query)
        knowledge = await retriever.knowledge_of(agent, corpus.reader)
        assert knowledge is not None
        assert knowledge.readable == readable
        for _, scope in knowledge.scopes:  # the shorter list goes to the vector store
            only = scope.only_documents
            assert len(scope.exclude_documents if only is None else only) <= DOCUMENTS // 2
        # Each leg must filter on its own: also without the last check on the hits.
        for checked in (knowledge, dataclasses.replace(knowledge, readable=None)):
            passages = await retriever.retrieve(checked, world.question)
            note(f"readable {len(readable)}; got {[p.document_id for p in passages]}")
            assert {p.document_id for p in passages} <= readable
            # Filtered inside each search, before its top k: as many as may be read.
            assert len(passages) == min(TOP_K, CHUNKS * len(readable))
