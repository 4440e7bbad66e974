"""A fresh install answers its first question from a document: the seed gives the demo
agent two sample HR policies (English and Vietnamese, shipped in the package), indexes
them, and the agent answers from them with citations, in the question's language."""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

import pytest

from ezhr_graphql import cli
from ezhr_graphql.container import Container
from ezhr_graphql.models import Role
from ezhr_graphql.services.seed import (
    DEMO_AGENT,
    SAMPLE_COLLECTION,
    SAMPLE_FILES,
    SAMPLE_PACKAGE,
    sample_documents,
)
from ezhr_graphql.settings import Settings
from tests.conftest import GraphQLClient, PeopleFactory, Person, make_settings
from tests.databases import DbUnderTest
from tests.factories import actor
from tests.wsclient import connect

ENGLISH, VIETNAMESE = SAMPLE_FILES
ADMIN_PASSWORD = "lanterns over the harbour at nine"
AGENT = """
query {
  agents(first: 20) {
    ... on AgentConnection {
      edges { node { id name answerMode starterMessages collections { id name } } }
    }
  }
}"""
DOCUMENTS = """
query ($c: ID!) {
  documents(collectionId: $c) {
    ... on DocumentConnection { edges { node { id filename title status tags } } }
  }
}"""
START = """
mutation ($agent: ID!) {
  createChatSession(input: {agentId: $agent}) { __typename ... on ChatSession { id } }
}"""
ASK = """
subscription ($input: SendMessageInput!) {
  chat(input: $input) {
    __typename
    ... on ReplyCompleted {
      message { status content citations { documentId title quote } }
    }
    ... on ReplyFailed { code reason }
  }
}"""


async def _seed(settings: Settings) -> str:
    """``ezhr-graphql seed`` on the suite's database (empty: each test starts so)."""
    seeding = make_settings(DbUnderTest(settings.database), seed={"admin_password": ADMIN_PASSWORD})
    return await cli._seed(seeding)


async def _demo(gql: GraphQLClient, token: str) -> dict[str, Any]:
    data = await gql.data(AGENT, token=token)
    (agent,) = [e["node"] for e in data["agents"]["edges"] if e["node"]["name"] == DEMO_AGENT]
    return dict(agent)


async def _documents(gql: GraphQLClient, token: str, collection_id: str) -> dict[str, Any]:
    data = await gql.data(DOCUMENTS, {"c": collection_id}, token=token)
    return {e["node"]["filename"]: e["node"] for e in data["documents"]["edges"]}


def test_the_samples_ship_inside_the_package() -> None:
    folder = resources.files(SAMPLE_PACKAGE)
    assert sorted(SAMPLE_FILES) == sorted(
        p.name for p in folder.iterdir() if p.name.endswith(".md")
    )
    english, vietnamese = (data.decode() for _, data in sample_documents())
    assert "sample" in english.lower()
    assert "mẫu" in vietnamese
    assert "15 working days of paid annual leave" in english
    assert "nghỉ phép năm 15 ngày" in vietnamese


async def test_seed_gives_the_demo_agent_the_samples_indexed_once(
    settings: Settings, container: Container, gql: GraphQLClient, people: PeopleFactory
) -> None:
    out = await _seed(settings)
    assert "seeded: admin, llm_model, embedding_model, agent, sample_collection, " in out
    assert "indexed 2 sample documents" in out
    admin = await people.admin()
    agent = await _demo(gql, admin.token)
    assert agent["answerMode"] == "EXTRACTIVE"
    assert "How many days of annual leave do I get?" in agent["starterMessages"]
    assert "Tôi được nghỉ phép năm bao nhiêu ngày?" in agent["starterMessages"]
    (collection,) = agent["collections"]
    assert collection["name"] == SAMPLE_COLLECTION
    documents = await _documents(gql, admin.token, collection["id"])
    assert sorted(documents) == sorted(SAMPLE_FILES)
    assert {d["status"] for d in documents.values()} == {"READY"}
    assert "sample" in documents[ENGLISH]["tags"]

    # Again: nothing changes, nothing is indexed again.
    again = await _seed(settings)
    assert "nothing (already seeded)" in again
    assert "indexed" not in again
    assert await _documents(gql, admin.token, collection["id"]) == documents

    # A demo agent deleted and seeded again answers from the same samples, not copies.
    async with container.db.transaction() as session:
        await container.services(session).agents.delete(
            actor(admin, Role.ADMIN), uuid.UUID(agent["id"])
        )
    recreated = await _seed(settings)
    assert "seeded: agent;" in recreated
    assert f"already there: sample {ENGLISH}" in recreated
    assert "indexed" not in recreated
    assert (await _demo(gql, admin.token))["collections"] == agent["collections"]
    assert await _documents(gql, admin.token, collection["id"]) == documents


async def _ask(url: str, person: Person, session_id: str, question: str) -> dict[str, Any]:
    payload = {"sessionId": session_id, "content": question, "clientMessageId": str(uuid.uuid4())}
    async with connect(url, person.token) as connection:
        # The first question may wait for the embedding model to load.
        stream = connection.subscribe(ASK, {"input": payload}, wait=60)
        events = [e["chat"] async for e in stream]
    end = events[-1]
    assert end["__typename"] == "ReplyCompleted", end
    message: dict[str, Any] = end["message"]
    assert message["status"] == "COMPLETED", message
    return message


@pytest.mark.parametrize(
    ("question", "sample", "number"),
    [
        ("How many days of annual leave do I get?", ENGLISH, "15"),
        ("Tôi được nghỉ phép năm bao nhiêu ngày?", VIETNAMESE, None),
    ],
    ids=["english", "vietnamese"],
)
async def test_the_first_question_gets_a_cited_answer_from_the_sample(
    settings: Settings,
    container: Container,
    gql: GraphQLClient,
    people: PeopleFactory,
    live_url: str,
    question: str,
    sample: str,
    number: str | None,
) -> None:
    await _seed(settings)
    admin, member = await people.admin(), await people.member()
    agent = await _demo(gql, admin.token)
    documents = await _documents(gql, admin.token, agent["collections"][0]["id"])
    started = await gql.data(START, {"agent": agent["id"]}, token=member.token)
    session_id = started["createChatSession"]["id"]

    reply = await _ask(live_url, member, session_id, question)

    cited = {c["documentId"] for c in reply["citations"]}
    assert documents[sample]["id"] in cited, reply["citations"]
    if number is not None:
        assert number in reply["content"], reply["content"]
        assert any(
            c["documentId"] == documents[sample]["id"] and number in c["quote"]
            for c in reply["citations"]
        ), reply["citations"]
