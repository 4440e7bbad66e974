"""N+1 guard: a page of sessions with nested agent and last message costs a fixed
number of SQL statements, whatever its size."""

from __future__ import annotations

from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage, Folder, MessageRole
from tests.conftest import GraphQLClient, PeopleFactory, StatementCounter
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
