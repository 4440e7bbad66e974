"""Audiences of knowledge through the API: each employee is answered from the policy
meant for them, members read only the documents their audiences admit (anything else
is NotFound), administrators manage every audience, and changing one embeds nothing
again."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ezhr_graphql.container import Container
from ezhr_graphql.models import Agent, AnswerMode, ChunkVector, Collection, DocumentChunk
from ezhr_graphql.models import Document as DocumentRow
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent, make_sessions
from tests.knowledge import (
    AUDIENCE,
    FIXTURES,
    HANDBOOK,
    SET_COLLECTIONS,
    UPDATE_AGENT,
    UPDATE_DOCUMENT,
    answer_from,
    ask,
    make_collection,
    upload,
    wait_indexed,
)
from tests.test_attributes import set_attributes
from tests.wsclient import connect

VIETNAM = FIXTURES / "audience" / "annual-leave-vietnam.md"
UNITED_STATES = FIXTURES / "audience" / "annual-leave-united-states.md"
QUESTION = "How many days of annual leave do I get?"
NO_ANSWER = "Not in my documents."

UPDATE_COLLECTION = f"""
mutation ($id: ID!, $input: UpdateCollectionInput!) {{
  updateCollection(id: $id, input: $input) {{
    __typename ... on Collection {{ {AUDIENCE} }} ... on InvalidInput {{ field }}
  }}
}}"""
DOCUMENT = f"""
query ($id: ID!) {{
  document(id: $id) {{ __typename ... on Document {{ id title {AUDIENCE} }} }}
}}"""
DOCUMENTS = """
query ($id: ID!) {
  documents(collectionId: $id) {
    __typename ... on DocumentConnection { edges { node { id } } }
  }
}"""
PROGRESS = "subscription ($id: ID!) { ingestionProgress(documentId: $id) { status } }"


@dataclass
class Policies:
    """One collection with the Vietnamese and the United States policies, each for its
    country, and an extractive agent answering from it; its administrator makes the
    employees who ask."""

    admin: Person
    agent: uuid.UUID
    collection: str
    vietnam: str
    united_states: str
    gql: GraphQLClient
    people: PeopleFactory

    async def employee(self, **attributes: Any) -> Person:
        """A member with these attributes, as the administrator set them."""
        member = await self.people.member()
        changed = await set_attributes(self.gql, self.admin.token, str(member.id), attributes)
        assert changed["__typename"] == "User", changed
        return member


@pytest.fixture
async def policies(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> Policies:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token, f"Leave {uuid.uuid4().hex[:6]}")
    documents = {}
    for path, country in ((VIETNAM, "vn"), (UNITED_STATES, "US")):
        metadata = {"audience": {"countries": [country]}}
        sent = await upload(
            client, admin.token, ids["collection"], path.name, path.read_bytes(), metadata
        )
        done = await wait_indexed(gql, admin.token, sent["document"]["id"])
        assert done["status"] == "READY", done
        documents[country.upper()] = done["id"]
    agent = await make_agent(
        container, admin, answer_mode=AnswerMode.EXTRACTIVE, general_chat=False
    )
    await answer_from(
        gql, admin.token, agent.id, ids["model"], [ids["collection"]], noAnswerMessage=NO_ANSWER
    )
    return Policies(
        admin, agent.id, ids["collection"], documents["VN"], documents["US"], gql, people
    )


async def reply(container: Container, url: str, person: Person, agent: uuid.UUID) -> dict[str, Any]:
    (session,) = await make_sessions(container, person, agent, 1)
    return (await ask(url, person, session.id, QUESTION)).message


async def test_each_employee_gets_the_policy_of_their_country_from_the_same_agent(
    policies: Policies, gql: GraphQLClient, container: Container, live_url: str
) -> None:
    in_vietnam = await policies.employee(country="VN")
    in_us = await policies.employee(country="US")
    nowhere = await policies.employee(office="Remote")

    vietnam = await reply(container, live_url, in_vietnam, policies.agent)
    assert "12 working days" in vietnam["content"], vietnam
    assert "15" not in vietnam["content"]
    assert {c["documentId"] for c in vietnam["citations"]} == {policies.vietnam}

    united_states = await reply(container, live_url, in_us, policies.agent)
    assert "15 working days" in united_states["content"], united_states
    assert "12" not in united_states["content"]
    assert {c["documentId"] for c in united_states["citations"]} == {policies.united_states}

    # No country: neither policy is theirs, and another country's is worse than none.
    unknown = await reply(container, live_url, nowhere, policies.agent)
    assert (unknown["content"], unknown["citations"]) == (NO_ANSWER, [])

    # An administrator manages both documents but is answered as an employee of theirs.
    await set_attributes(gql, policies.admin.token, str(policies.admin.id), {"country": "VN"})
    own = await reply(container, live_url, policies.admin, policies.agent)
    assert {c["documentId"] for c in own["citations"]} == {policies.vietnam}


async def _index_state(container: Container, document_id: str) -> tuple[Any, ...]:
    id = uuid.UUID(document_id)
    async with container.db.read() as session:
        document = await session.get(DocumentRow, id)
        assert document is not None
        chunks = list(
            await session.scalars(select(DocumentChunk.id).where(DocumentChunk.document_id == id))
        )
        vectors = list(
            await session.execute(
                select(ChunkVector.chunk_id, ChunkVector.vector)
                .where(ChunkVector.document_id == id)
                .order_by(ChunkVector.chunk_id)
            )
        )
        collection = await session.get(Collection, document.collection_id)
        assert collection is not None
        return (
            document.status,
            document.revision,
            document.indexed_at,
            sorted(chunks),
            [tuple(v) for v in vectors],
            collection.index_version,
        )


async def test_an_agent_that_chats_without_documents_chats_with_whom_none_is_for(
    policies: Policies, gql: GraphQLClient, container: Container, live_url: str
) -> None:
    """Documents a member's audiences exclude are as if they did not exist: an agent
    that chats when it has no document chats with that member, rather than saying
    its no-answer message (which would tell them documents exist)."""
    changed = await gql.data(
        UPDATE_AGENT,
        {"id": str(policies.agent), "input": {"generalChat": True}},
        policies.admin.token,
    )
    assert changed["updateAgent"]["__typename"] == "Agent", changed
    nowhere = await policies.employee(office="Remote")
    chatted = await reply(container, live_url, nowhere, policies.agent)
    assert chatted["content"], chatted
    assert chatted["content"] != NO_ANSWER
    assert chatted["citations"] == []

    # A member some document is for, asking what none of them answers: the agent
    # has documents for them, and says it cannot answer from them.
    in_vietnam = await policies.employee(country="VN")
    (session,) = await make_sessions(container, in_vietnam, policies.agent, 1)
    unrelated = await ask(live_url, in_vietnam, session.id, "Which dog breeds are allowed?")
    assert (unrelated.message["content"], unrelated.message["citations"]) == (NO_ANSWER, [])


async def test_an_audience_narrowed_while_a_question_is_answered_is_checked_again(
    policies: Policies, gql: GraphQLClient, container: Container
) -> None:
    """What a reader may read is worked out when a question comes; a document whose
    audience no longer admits them by the time its passages load is left out."""
    in_vietnam = await policies.employee(country="VN")
    async with container.db.read() as session:
        agent = await session.get(Agent, policies.agent)
    assert agent is not None
    worked_out = await container.retriever.knowledge_of(agent, in_vietnam.id)
    assert worked_out is not None
    knowledge = dataclasses.replace(worked_out, threshold=-1.0)
    before = await container.retriever.retrieve(knowledge, QUESTION)
    assert {str(p.document_id) for p in before} == {policies.vietnam}

    narrowed = await gql.data(
        UPDATE_DOCUMENT,
        {"id": policies.vietnam, "input": {"audience": {"countries": ["US"]}}},
        policies.admin.token,
    )
    assert narrowed["updateDocument"]["__typename"] == "Document", narrowed
    assert await container.retriever.retrieve(knowledge, QUESTION) == []


async def test_changing_an_audience_embeds_nothing_again_and_applies_at_once(
    policies: Policies, gql: GraphQLClient, container: Container, live_url: str
) -> None:
    in_vietnam = await policies.employee(country="VN", groups=["hr"])
    before = await _index_state(container, policies.united_states)
    assert before[3]
    assert len(before[4]) == len(before[3])

    changed = await gql.data(
        UPDATE_DOCUMENT,
        {"id": policies.united_states, "input": {"audience": {"countries": ["VN", "US"]}}},
        policies.admin.token,
    )
    assert changed["updateDocument"]["status"] == "READY"
    assert changed["updateDocument"]["audience"]["countries"] == ["US", "VN"]
    collection = await gql.data(
        UPDATE_COLLECTION,
        {"id": policies.collection, "input": {"audience": {"groups": ["hr"]}}},
        policies.admin.token,
    )
    assert collection["updateCollection"]["audience"]["groups"] == ["hr"]
    assert await _index_state(container, policies.united_states) == before

    # The next question already sees the new audience: both policies now.
    both = await reply(container, live_url, in_vietnam, policies.agent)
    assert {c["documentId"] for c in both["citations"]} == {
        policies.vietnam,
        policies.united_states,
    }
    # The collection's audience applies too (AND): out of the group, nothing.
    await set_attributes(gql, policies.admin.token, str(in_vietnam.id), {"country": "VN"})
    none = await reply(container, live_url, in_vietnam, policies.agent)
    assert none["citations"] == []
    # An empty audience is everyone again.
    everyone = await gql.data(
        UPDATE_COLLECTION,
        {"id": policies.collection, "input": {"audience": {}}},
        policies.admin.token,
    )
    assert everyone["updateCollection"]["audience"]["everyone"] is True


async def test_audiences_are_checked_and_only_administrators_see_them(
    policies: Policies, client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    for audience, field in (
        ({"countries": ["XX"]}, "countries"),
        ({"groups": [f"g{i}" for i in range(101)]}, "groups"),
        ({"offices": ["x" * 101]}, "offices"),
    ):
        refused = await gql.data(
            UPDATE_DOCUMENT,
            {"id": policies.vietnam, "input": {"audience": audience}},
            policies.admin.token,
        )
        assert refused["updateDocument"] == {
            "__typename": "InvalidInput",
            "code": "INVALID_INPUT",
            "field": field,
        }
    collection_refused = await gql.data(
        UPDATE_COLLECTION,
        {"id": policies.collection, "input": {"audience": {"countries": ["Viet Nam"]}}},
        policies.admin.token,
    )
    assert collection_refused["updateCollection"]["field"] == "countries"
    data = (HANDBOOK / "travel-and-leave" / "leave.md").read_bytes()
    bad = await upload(
        client,
        policies.admin.token,
        policies.collection,
        "l.md",
        data,
        {"audience": {"countries": ["X"]}},
    )
    assert (bad["__typename"], bad["field"]) == ("InvalidInput", "countries")

    admin_view = await gql.data(DOCUMENT, {"id": policies.vietnam}, policies.admin.token)
    assert admin_view["document"]["audience"] == {
        "countries": ["VN"],
        "offices": [],
        "departments": [],
        "employmentTypes": [],
        "groups": [],
        "everyone": False,
    }
    in_vietnam = await policies.employee(country="VN")
    member_view = await gql.data(DOCUMENT, {"id": policies.vietnam}, in_vietnam.token)
    assert member_view["document"]["id"] == policies.vietnam
    assert member_view["document"]["audience"] is None


async def test_members_read_only_the_documents_their_audiences_admit(
    policies: Policies, gql: GraphQLClient, live_url: str
) -> None:
    in_vietnam = await policies.employee(country="VN")

    def ids(page: dict[str, Any]) -> set[str]:
        return {e["node"]["id"] for e in page["documents"]["edges"]}

    listed = await gql.data(DOCUMENTS, {"id": policies.collection}, in_vietnam.token)
    assert ids(listed) == {policies.vietnam}
    assert ids(await gql.data(DOCUMENTS, {"id": policies.collection}, policies.admin.token)) == {
        policies.vietnam,
        policies.united_states,
    }
    hidden = await gql.data(DOCUMENT, {"id": policies.united_states}, in_vietnam.token)
    assert hidden["document"]["__typename"] == "NotFound"
    async with connect(live_url, in_vietnam.token) as ws:
        mine = [d async for d in ws.subscribe(PROGRESS, {"id": policies.vietnam})]
        assert mine[0]["ingestionProgress"]["status"] == "READY"
    async with connect(live_url, in_vietnam.token) as ws:
        payload = {"query": PROGRESS, "variables": {"id": policies.united_states}}
        await ws.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        refused = await ws.recv()
    assert refused["type"] == "next", refused
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # The collection's audience applies to every document of it.
    await gql.data(
        UPDATE_COLLECTION,
        {"id": policies.collection, "input": {"audience": {"departments": ["Finance"]}}},
        policies.admin.token,
    )
    gone = await gql.data(DOCUMENTS, {"id": policies.collection}, in_vietnam.token)
    assert gone["documents"]["__typename"] == "NotFound"
    assert (await gql.data(DOCUMENT, {"id": policies.vietnam}, in_vietnam.token))["document"][
        "__typename"
    ] == "NotFound"
    await gql.data(
        UPDATE_COLLECTION,
        {"id": policies.collection, "input": {"audience": {}}},
        policies.admin.token,
    )
    # Only collections an agent they may use answers from.
    await gql.data(SET_COLLECTIONS, {"agent": str(policies.agent), "ids": []}, policies.admin.token)
    detached = await gql.data(DOCUMENT, {"id": policies.vietnam}, in_vietnam.token)
    assert detached["document"]["__typename"] == "NotFound"
