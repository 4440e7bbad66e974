"""Hybrid retrieval over indexed documents: the keyword leg finds what the vectors
miss (exact terms, Vietnamese words), the agent's filters apply to both legs, hostile
questions are harmless, and a retrieval costs the same statements whatever its size."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

import httpx

from ezhr_graphql.container import Container
from ezhr_graphql.models import Agent
from ezhr_graphql.services.retrieval import Knowledge, Passage, Retriever
from tests.conftest import GraphQLClient, PeopleFactory, Person, StatementCounter
from tests.factories import make_agent
from tests.knowledge import (
    HANDBOOK,
    LABOUR_PDF,
    SET_COLLECTIONS,
    UPDATE_AGENT,
    UPDATE_DOCUMENT,
    answer_from,
    blank_pdf,
    make_collection,
    upload,
    wait_indexed,
)
from tests.test_retrieval_units import HOSTILE

LEAVE = HANDBOOK / "travel-and-leave" / "leave.md"
FMLA = HANDBOOK / "travel-and-leave" / "fmla.md"
PARENTAL = HANDBOOK / "travel-and-leave" / "paid-parental-leave.md"


@dataclass
class Library:
    """An agent answering from collections of indexed files (file name -> id)."""

    admin: Person
    agent: uuid.UUID
    collections: list[str]
    documents: dict[str, str]


async def add_collection(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    admin: Person,
    files: dict[str, bytes],
    name: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """A collection holding ``files``, indexed (or failed): its IDs and the documents'."""
    ids = await make_collection(gql, admin.token, name)
    documents = {}
    for filename, data in files.items():
        sent = await upload(client, admin.token, ids["collection"], filename, data)
        done = await wait_indexed(gql, admin.token, sent["document"]["id"])
        documents[filename] = done["id"]
    return ids, documents


async def library(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    *shelves: dict[str, bytes],
) -> Library:
    """An agent on the first shelf's embedding model, answering from the first shelf
    only; the others are collections of their own."""
    admin = await people.admin()
    collections, documents, models = [], {}, []
    for i, files in enumerate(shelves):
        name = f"Shelf {i} {uuid.uuid4().hex[:6]}"
        ids, found = await add_collection(client, gql, admin, files, name)
        collections.append(ids["collection"])
        models.append(ids["model"])
        documents.update(found)
    agent = await make_agent(container, admin)
    await answer_from(gql, admin.token, agent.id, models[0], collections[:1])
    return Library(admin, agent.id, collections, documents)


def retriever(container: Container, *, keyword_search: bool = True) -> Retriever:
    return Retriever(
        container.db,
        container.vector_store,
        container.models,
        container.settings.llm_secret,
        keyword_search=keyword_search,
    )


async def knowledge(container: Container, agent_id: uuid.UUID, **changes: object) -> Knowledge:
    async with container.db.read() as session:
        agent = await session.get(Agent, agent_id)
    assert agent is not None
    found = await retriever(container).knowledge_of(agent, agent.owner_id)
    assert found is not None
    return dataclasses.replace(found, **changes)  # type: ignore[arg-type]


def files(*paths: object) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in paths}  # type: ignore[attr-defined]


def documents_of(passages: list[Passage]) -> list[str]:
    return [str(p.document_id) for p in passages]


async def test_the_keyword_leg_keeps_an_exact_term_the_threshold_drops(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE, FMLA, PARENTAL))
    # No passage is this close to "FMLA" for the embedding model: vectors alone find
    # nothing the agent may use.
    strict = await knowledge(container, lib.agent, threshold=0.9)
    assert await retriever(container, keyword_search=False).retrieve(strict, "FMLA") == []
    passages = await retriever(container).retrieve(strict, "FMLA")
    assert len(passages) == strict.top_k
    assert documents_of(passages)[0] == lib.documents["fmla.md"]
    for passage in passages:
        assert "fmla" in (passage.title + passage.text).lower()
        assert passage.keyword_score is not None
        assert passage.vector_score is None or passage.vector_score < 0.9
        assert 0 < passage.score <= 1


async def test_a_form_number_finds_its_passage(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    forms = {
        f"{kind}.md": f"# {kind.title()} claims\n\nSend form {code} to the benefits team with "
        f"your receipts within 30 days of the {kind} expense.\n".encode()
        for kind, code in (("travel", "TR-1184"), ("medical", "MD-5521"), ("training", "ED-3390"))
    }
    lib = await library(client, gql, people, container, forms)
    passages = await retriever(container).retrieve(
        await knowledge(container, lib.agent, threshold=-1.0), "Where do I send form MD-5521?"
    )
    assert documents_of(passages)[0] == lib.documents["medical.md"]
    assert passages[0].keyword_score == 1.0
    assert "MD-5521" in passages[0].text


async def test_a_vietnamese_question_finds_the_vietnamese_passage(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    shelf = {"NQLD01-excerpt.pdf": LABOUR_PDF.read_bytes(), **files(LEAVE)}
    lib = await library(client, gql, people, container, shelf)
    know = await knowledge(container, lib.agent, top_k=2)
    passages = await retriever(container).retrieve(
        know, "Quy tắc khi xử lý vi phạm kỷ luật lao động là gì?"
    )
    assert documents_of(passages)[0] == lib.documents["NQLD01-excerpt.pdf"]
    assert "Quy tắc khi xử lý" in passages[0].text
    assert passages[0].keyword_score is not None
    # Upper case is the same word; diacritics make another one: "tac" is not "tắc".
    upper = await retriever(container).retrieve(know, "ĐIỀU 19. QUY TẮC KHI XỬ LÝ")
    assert "Điều 19. Quy tắc khi xử lý" in upper[0].text
    marked = await retriever(container).retrieve(know, "tắc")
    assert "tắc" in marked[0].text
    assert marked[0].keyword_score is not None
    bare = await retriever(container).retrieve(know, "tac")
    assert all(p.keyword_score is None for p in bare)


async def test_hostile_questions_are_harmless(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(FMLA))
    know = await knowledge(container, lib.agent, threshold=-1.0)
    for question in HOSTILE:
        passages = await retriever(container).retrieve(know, question)
        assert len(passages) <= know.top_k, question
        assert all(0 < p.score <= 1 for p in passages), question
    # Words around the syntax are still found.
    found = await retriever(container).retrieve(know, 'fmla" OR title:x NEAR("')
    assert found[0].keyword_score is not None


async def test_outdated_documents_are_left_out_of_both_legs_unless_included(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE, FMLA))
    fmla = lib.documents["fmla.md"]
    await gql.data(UPDATE_DOCUMENT, {"id": fmla, "input": {"outdated": True}}, lib.admin.token)
    passages = await retriever(container).retrieve(
        await knowledge(container, lib.agent, threshold=-1.0, top_k=10), "FMLA leave"
    )
    assert passages
    assert fmla not in documents_of(passages)
    await gql.data(
        UPDATE_AGENT, {"id": str(lib.agent), "input": {"includeOutdated": True}}, lib.admin.token
    )
    passages = await retriever(container).retrieve(
        await knowledge(container, lib.agent, threshold=-1.0), "FMLA leave"
    )
    assert documents_of(passages)[0] == fmla


async def test_only_the_agents_collections_are_searched(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE), files(FMLA))
    fmla = lib.documents["fmla.md"]
    know = await knowledge(container, lib.agent, threshold=-1.0, top_k=10)
    passages = await retriever(container).retrieve(know, "FMLA eligibility")
    assert passages
    assert set(documents_of(passages)) == {lib.documents["leave.md"]}
    await gql.data(
        SET_COLLECTIONS, {"agent": str(lib.agent), "ids": lib.collections}, lib.admin.token
    )
    both = await knowledge(container, lib.agent, threshold=-1.0)
    assert documents_of(await retriever(container).retrieve(both, "FMLA eligibility"))[0] == fmla


async def test_collections_without_an_indexed_document_give_nothing(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    lib = await library(client, gql, people, container, {"scan.pdf": blank_pdf()})
    know = await knowledge(container, lib.agent, threshold=-1.0)
    assert await retriever(container).retrieve(know, "What does the scan say?") == []
    empty = await library(client, gql, people, container, {})
    know = await knowledge(container, empty.agent, threshold=-1.0)
    assert await retriever(container).retrieve(know, "Anything at all?") == []


async def test_a_retrieval_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    lib = await library(client, gql, people, container, files(LEAVE, FMLA, PARENTAL))
    hybrid, vectors = retriever(container), retriever(container, keyword_search=False)
    question = "How many weeks of FMLA leave are paid?"
    counts = []
    for top_k in (1, 4, 20):
        know = await knowledge(container, lib.agent, threshold=-1.0, top_k=top_k)
        await hybrid.retrieve(know, question)  # the embedded store loads its vectors once
        for which in (hybrid, vectors):
            count_statements.count = 0
            assert await which.retrieve(know, question)
            counts.append(count_statements.count)
    # Keyword statistics (SQLite reuses the term counts it read a moment ago), keyword
    # search, loading the passages; vectors: loading only.
    statistics = 0 if container.db.engine.dialect.name == "sqlite" else 1
    assert counts == [2 + statistics, 1] * 3, count_statements.statements
