"""Answers from documents: citations streamed before the first token and stored as
streamed, follow-ups condensed, outdated documents left out, and an honest "not
found" when nothing is relevant."""

from __future__ import annotations

import uuid

import httpx

from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageRole
from ezhr_graphql.rag import LlmSpec
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent, make_sessions
from tests.knowledge import (
    CITATION,
    HANDBOOK,
    UPDATE_AGENT,
    UPDATE_DOCUMENT,
    answer_from,
    ask,
    make_collection,
    upload,
    wait_indexed,
)
from tests.test_replies import MESSAGE
from tests.wsclient import connect


class Knowledgeable:
    """An agent answering from a collection holding two handbook pages."""

    def __init__(self, admin: Person, member: Person, agent_id: str, documents: list[str]):
        self.admin = admin
        self.member = member
        self.agent_id = agent_id
        self.agent = uuid.UUID(agent_id)
        self.documents = documents


async def knowledgeable(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> Knowledgeable:
    admin, member = await people.admin(), await people.member()
    ids = await make_collection(gql, admin.token)
    documents = []
    for path in ("travel-and-leave/leave.md", "travel-and-leave/paid-parental-leave.md"):
        sent = await upload(
            client, admin.token, ids["collection"], path, (HANDBOOK / path).read_bytes()
        )
        done = await wait_indexed(gql, admin.token, sent["document"]["id"])
        assert done["status"] == "READY"
        documents.append(done["id"])
    agent = await make_agent(container, admin, llm="scripted?tokens=16")
    await answer_from(
        gql,
        admin.token,
        agent.id,
        ids["model"],
        [ids["collection"]],
        noAnswerMessage="Not in my documents.",
    )
    return Knowledgeable(admin, member, str(agent.id), documents)


async def test_answers_cite_what_was_retrieved_before_the_first_token(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    k = await knowledgeable(client, gql, people, container)
    (session,) = await make_sessions(container, k.member, k.agent, 1)
    events = (
        await ask(live_url, k.member, str(session.id), "How many hours of annual leave do I earn?")
    ).events
    kinds = [e["__typename"] for e in events]
    assert kinds[0] == "ReplyStarted"
    assert kinds[1] == "ReplyCitations"
    assert kinds[2] == "ReplyDelta"
    assert kinds[-1] == "ReplyCompleted"
    citations = events[1]["citations"]
    assert 1 <= len(citations) <= 4
    assert citations[0]["documentId"] == k.documents[0]  # the leave page
    assert citations[0]["title"] == "Leave types"
    assert all(0 < c["score"] <= 1 for c in citations)
    assert [c["score"] for c in citations] == sorted((c["score"] for c in citations), reverse=True)
    stored = events[-1]["message"]["citations"]
    assert stored == citations
    # Replaying the finished reply streams the same citations.
    async with connect(live_url, k.member.token) as ws:
        replayed = [
            d["messageStream"]
            async for d in ws.subscribe(
                "subscription ($id: ID!) { messageStream(messageId: $id) { __typename "
                f"... on ReplyCitations {{ citations {{ {CITATION} }} }} }} }}",
                {"id": events[0]["messageId"]},
            )
        ]
    assert next(e for e in replayed if e["__typename"] == "ReplyCitations")["citations"] == stored


async def test_follow_up_questions_are_condensed_with_the_conversation(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    k = await knowledgeable(client, gql, people, container)
    (session,) = await make_sessions(container, k.member, k.agent, 1)
    first = (
        await ask(live_url, k.member, str(session.id), "Who is eligible for paid parental leave?")
    ).events
    assert first[1]["citations"][0]["documentId"] == k.documents[1]
    # On its own this names no topic; with the conversation it is about parental leave.
    follow = (await ask(live_url, k.member, str(session.id), "And how many weeks is it?")).events
    assert follow[1]["__typename"] == "ReplyCitations"
    assert k.documents[1] in {c["documentId"] for c in follow[1]["citations"]}


async def test_the_standalone_question_carries_the_conversation(container: Container) -> None:
    model = container.models.chat_model(LlmSpec("scripted", "scripted", None, 4096, 0.1))
    branch = [
        ChatMessageRow(role=MessageRole.USER, content="Who gets paid parental leave?"),
        ChatMessageRow(role=MessageRole.ASSISTANT, content="Employees after 12 months."),
        ChatMessageRow(role=MessageRole.USER, content="And for how long?"),
    ]
    planner = container.runs.executor.planner
    standalone = await planner.standalone(model, branch)
    assert standalone == "Who gets paid parental leave? And for how long?"
    # A first question is used as it is, with no call to the model.
    assert await planner.standalone(model, branch[-1:]) == "And for how long?"


async def test_nothing_relevant_gives_the_no_answer_message(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    k = await knowledgeable(client, gql, people, container)
    await gql.data(
        UPDATE_AGENT, {"id": k.agent_id, "input": {"similarityThreshold": 0.95}}, k.admin.token
    )
    (session,) = await make_sessions(container, k.member, k.agent, 1)
    events = (await ask(live_url, k.member, str(session.id), "What is the capital of Peru?")).events
    assert events[1] == {"__typename": "ReplyCitations", "seq": 2, "citations": []}
    text = "".join(e["text"] for e in events if e["__typename"] == "ReplyDelta")
    assert text.strip() == "Not in my documents."
    assert events[-1]["message"]["citations"] == []


async def test_outdated_documents_are_left_out_unless_the_agent_includes_them(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    k = await knowledgeable(client, gql, people, container)
    for document_id in k.documents:
        await gql.data(
            UPDATE_DOCUMENT, {"id": document_id, "input": {"outdated": True}}, k.admin.token
        )
    (session,) = await make_sessions(container, k.member, k.agent, 1)
    question = "How many hours of annual leave do I earn?"
    events = (await ask(live_url, k.member, str(session.id), question)).events
    assert events[1]["citations"] == []
    await gql.data(
        UPDATE_AGENT, {"id": k.agent_id, "input": {"includeOutdated": True}}, k.admin.token
    )
    (other,) = await make_sessions(container, k.member, k.agent, 1)
    events = (await ask(live_url, k.member, str(other.id), question)).events
    assert events[1]["citations"][0]["documentId"] == k.documents[0]


async def test_members_see_no_collections_and_agents_without_any_chat_as_before(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
) -> None:
    k = await knowledgeable(client, gql, people, container)
    seen = await gql.data(
        "query ($id: ID!) { agent(id: $id) { ... on Agent { collections { id } } } }",
        {"id": k.agent_id},
        k.member.token,
    )
    assert seen["agent"]["collections"] == []
    plain = await make_agent(container, k.admin)
    (session,) = await make_sessions(container, k.member, plain.id, 1)
    events = (await ask(live_url, k.member, str(session.id), "Hello there")).events
    assert [e["__typename"] for e in events][:2] == ["ReplyStarted", "ReplyDelta"]
    messages = await gql.data(MESSAGE, {"session": str(session.id)}, k.member.token)
    assert messages["chatMessages"]["edges"]
