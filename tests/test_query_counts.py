"""N+1 guard: a page of sessions with nested agent and last message costs a fixed
number of SQL statements, whatever its size."""

from __future__ import annotations

import uuid
from typing import Any

from ezhr_graphql.container import Container
from ezhr_graphql.models import (
    AudienceAttribute,
    AuditAction,
    ChatMessage,
    Collection,
    Document,
    DocumentStatus,
    Folder,
    MessageRole,
)
from ezhr_graphql.repositories.audience import AudienceRepository
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.services.attributes import Attributes
from ezhr_graphql.services.audit import AuditLog
from tests.conftest import GraphQLClient, PeopleFactory, Person, StatementCounter
from tests.factories import make_agent, make_sessions

SESSIONS_WITH_NESTED = """
query ($first: Int!) {
  chatSessions(first: $first) {
    ... on ChatSessionConnection {
      edges { node { title agent { name llmModel { name } embeddingModel { name } }
                     lastMessage { content } folder { name } } }
    }
  }
}"""
AGENTS_WITH_MODELS = """
query ($first: Int!) {
  agents(first: $first) {
    ... on AgentConnection { edges { node { name llmModel { name } embeddingModel { name } } } }
  }
}"""


async def _statements(
    gql: GraphQLClient, counter: StatementCounter, query: str, first: int, token: str
) -> tuple[int, int]:
    counter.count = 0
    data = await gql.data(query, {"first": first}, token=token)
    edges = next(iter(data.values()))["edges"]
    return counter.count, len(edges)


async def test_listing_50_sessions_costs_the_same_statements_as_listing_5(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin = await people.admin()
    member = await people.member()
    agents = [await make_agent(container, admin) for _ in range(3)]
    sessions = []
    for i in range(50):
        sessions += await make_sessions(container, member, agents[i % 3].id, 1)
    async with container.db.transaction() as db:
        folder = Folder(owner_id=member.id, name="Benefits")
        db.add(folder)
        await db.flush()
        for i, session in enumerate(sessions):
            db.add(ChatMessage(session_id=session.id, role=MessageRole.USER, content="hi"))
            if i % 2:
                (await db.get_one(type(session), session.id)).folder_id = folder.id

    await gql.data("{ viewer { email } }", token=member.token)  # warm the user cache
    small, small_edges = await _statements(
        gql, count_statements, SESSIONS_WITH_NESTED, 5, member.token
    )
    large, large_edges = await _statements(
        gql, count_statements, SESSIONS_WITH_NESTED, 50, member.token
    )
    assert (small_edges, large_edges) == (5, 50)
    assert small == large
    # the page with its agents, last messages and folders; LLMs; embedding models
    assert large == 3, count_statements.statements


async def test_listing_agents_with_models_costs_a_fixed_number_of_statements(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin = await people.admin()
    for _ in range(20):
        await make_agent(container, admin)
    await gql.data("{ viewer { email } }", token=admin.token)  # warm the user cache
    small, _ = await _statements(gql, count_statements, AGENTS_WITH_MODELS, 2, admin.token)
    large, edges = await _statements(gql, count_statements, AGENTS_WITH_MODELS, 20, admin.token)
    assert edges == 20
    assert small == large == 3  # page, LLMs, embedding models


DOCUMENTS_WITH_AUDIENCES = """
query ($collection: ID!, $first: Int!) {
  documents(collectionId: $collection, first: $first) {
    ... on DocumentConnection {
      edges { node { title audience { countries groups everyone } } }
    }
  }
}"""
COLLECTIONS_WITH_AUDIENCES = """
query ($first: Int!) {
  collections(first: $first) {
    ... on CollectionConnection { edges { node { name audience { countries everyone } } } }
  }
}"""
USERS_WITH_ATTRIBUTES = """
query ($first: Int!) {
  users(first: $first) {
    ... on UserConnection { edges { node { email attributes { country groups } } } }
  }
}"""


async def _audience_library(
    container: Container, admin: Person, member: Person
) -> tuple[str, uuid.UUID]:
    """A collection a public agent answers from, of 30 documents for Vietnam (the
    member's country) and 30 for the United States, each of a group too."""
    agent = await make_agent(container, admin)
    async with container.db.transaction() as session:
        services = container.services(session)
        await services.users.set_attributes(member.id, Attributes(country="VN", groups=("all",)))
        collection = Collection(name="Policies", embedding_model_id=agent.embedding_model_id)
        session.add(collection)
        await session.flush()
        await CollectionRepository.from_session(session).set_for_agent(agent.id, [collection.id])
        audiences = AudienceRepository.from_session(session)
        await audiences.set_collection(collection.id, {AudienceAttribute.COUNTRY: ["VN", "US"]})
        for i in range(60):
            document = Document(
                collection_id=collection.id,
                filename=f"{i}.md",
                kind="markdown",
                size_bytes=1,
                content_hash=f"{i:064}",
                title=f"Policy {i}",
                status=DocumentStatus.READY,
            )
            session.add(document)
            await session.flush()
            country = "VN" if i % 2 else "US"
            await audiences.set_document(
                document.id,
                {AudienceAttribute.COUNTRY: [country], AudienceAttribute.GROUP: ["all", f"g{i}"]},
            )
        return str(collection.id), agent.embedding_model_id


async def _page(
    gql: GraphQLClient, counter: StatementCounter, query: str, variables: dict[str, Any], token: str
) -> tuple[int, list[dict[str, Any]]]:
    counter.count = 0
    data = await gql.data(query, variables, token=token)
    edges: list[dict[str, Any]] = next(iter(data.values()))["edges"]
    return counter.count, edges


async def test_lists_with_audiences_and_attributes_cost_the_same_whatever_their_size(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin, member = await people.admin(), await people.member()
    collection, model = await _audience_library(container, admin, member)
    for _ in range(30):
        await people.member()
    async with container.db.transaction() as session:
        for i in range(30):
            session.add(Collection(name=f"c{i}", embedding_model_id=model))
    for person in (admin, member):
        await gql.data("{ viewer { email } }", token=person.token)  # warm the user cache

    counts = {}
    for who, person in (("admin", admin), ("member", member)):
        for first in (5, 30):
            variables = {"collection": collection, "first": first}
            n, edges = await _page(
                gql, count_statements, DOCUMENTS_WITH_AUDIENCES, variables, person.token
            )
            assert len(edges) == first
            if who == "member":  # the Vietnamese ones only (odd numbers)
                assert all(int(e["node"]["title"].split()[-1]) % 2 for e in edges)
                assert all(e["node"]["audience"] is None for e in edges)
            counts[who, "documents", first] = n
    for query, name in (
        (COLLECTIONS_WITH_AUDIENCES, "collections"),
        (USERS_WITH_ATTRIBUTES, "users"),
    ):
        for first in (5, 30):
            n, edges = await _page(gql, count_statements, query, {"first": first}, admin.token)
            assert len(edges) == first
            counts["admin", name, first] = n
    # Documents: the collection, the page, the audiences (an admin); the member's
    # attributes, whether they may read the collection, the page (members see no
    # audiences). Collections: the page, the audiences. Users: the page.
    assert counts == {
        ("admin", "documents", 5): 3,
        ("admin", "documents", 30): 3,
        ("member", "documents", 5): 3,
        ("member", "documents", 30): 3,
        ("admin", "collections", 5): 2,
        ("admin", "collections", 30): 2,
        ("admin", "users", 5): 1,
        ("admin", "users", 30): 1,
    }, count_statements.statements


AUDIT = """
query ($first: Int!) {
  auditLog(first: $first) {
    ... on AuditEventConnection {
      edges { cursor node { id at actorId action targetType targetId address details { name } } }
      pageInfo { endCursor }
    }
  }
}"""
APPROVED = """
query ($first: Int!) {
  approvedAnswers(first: $first) {
    ... on ApprovedAnswerConnection {
      edges { node { id questions answer hitCount audience { countries groups everyone } } }
    }
  }
}"""
CREATE = """
mutation ($input: ApprovedAnswerInput!) { createApprovedAnswer(input: $input) { __typename } }
"""


async def test_audit_log_and_approved_answers_cost_the_same_whatever_the_page_size(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    admin = await people.admin()
    async with container.db.transaction() as session:
        log = AuditLog(session, "192.0.2.1")
        for _ in range(40):
            log.record(admin.id, AuditAction.AGENT_CHANGED, ("Agent", admin.id), {"n": 1})
    for i in range(25):
        audience = {"countries": ["VN"], "groups": [f"g{i}"]} if i % 2 else None
        made = await gql.data(
            CREATE,
            {
                "input": {
                    "questions": [f"Where is office number {i}?"],
                    "answer": "There.",
                    "audience": audience,
                }
            },
            admin.token,
        )
        assert made["createApprovedAnswer"]["__typename"] == "ApprovedAnswer", made
    await gql.data("{ viewer { email } }", token=admin.token)  # the user cache warm

    counts = {}
    for name, query in (("audit", AUDIT), ("approved", APPROVED)):
        for first in (3, 20):
            n, edges = await _statements(gql, count_statements, query, first, admin.token)
            assert edges == first
            counts[name, first] = n

    # The audit log: the page. Approved answers: the page, then their audiences.
    assert counts == {
        ("audit", 3): 1,
        ("audit", 20): 1,
        ("approved", 3): 2,
        ("approved", 20): 2,
    }, count_statements.statements
