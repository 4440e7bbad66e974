"""The session list reads each session's agent, newest message and folder with the page,
in one statement: what it shows is what the single session shows, soft-deleted rows,
private agents and other people's sessions included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from ezhr_graphql.container import Container
from ezhr_graphql.models import (
    Agent,
    AnswerMode,
    ChatMessage,
    ChatSession,
    Folder,
    MessageRole,
    MessageStatus,
    UnsupportedNumbers,
    Visibility,
)
from ezhr_graphql.repositories.columns import UNREAD
from tests.conftest import GraphQLClient, PeopleFactory, Person, StatementCounter
from tests.factories import make_agent, make_sessions

NESTED = """
  id title pinned
  agent { id name starterMessages visibility }
  lastMessage { id content role status parentId citations { title } unsupportedSpans }
  folder { id name }
"""
LIST = f"""
query ($first: Int, $after: String, $filter: ChatSessionFilter) {{
  chatSessions(first: $first, after: $after, filter: $filter) {{
    ... on ChatSessionConnection {{
      edges {{ node {{ {NESTED} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""
ONE = f"""
query ($id: ID!) {{ chatSession(id: $id) {{ ... on ChatSession {{ {NESTED} }} }} }}"""
THROUGH_A_FRAGMENT = """
query {
  chatSessions(first: 50) { ...Page }
}
fragment Page on ChatSessionConnection { edges { node { ...Row } } }
fragment Row on ChatSession { id agent { name } lastMessage { content } }
"""


async def _message(
    container: Container, session_id: uuid.UUID, content: str, **values: Any
) -> uuid.UUID:
    async with container.db.transaction() as db:
        row = ChatMessage(
            session_id=session_id, content=content, **{"role": MessageRole.USER, **values}
        )
        db.add(row)
        await db.flush()
        return row.id


async def _soft_delete(container: Container, model: Any, id: uuid.UUID) -> None:
    async with container.db.transaction() as db:
        await db.execute(update(model).where(model.id == id).values(deleted_at=datetime.now(UTC)))


async def _listed(gql: GraphQLClient, person: Person, **variables: Any) -> list[dict[str, Any]]:
    data = await gql.data(LIST, {"first": 50, **variables}, token=person.token)
    return [edge["node"] for edge in data["chatSessions"]["edges"]]


async def _move(container: Container, session_id: uuid.UUID, **values: Any) -> None:
    async with container.db.transaction() as db:
        await db.execute(update(ChatSession).where(ChatSession.id == session_id).values(**values))


async def _a_member_with_everything(
    container: Container, people: PeopleFactory
) -> tuple[Person, dict[str, uuid.UUID]]:
    """A member's sessions covering each case the list has to get right; ``tie`` is the
    message that must show as newest of two written at the same instant."""
    admin, member = await people.admin(), await people.member()
    public = await make_agent(container, admin)
    private = await make_agent(container, admin, visibility=Visibility.PRIVATE)
    gone = await make_agent(container, admin)
    s: dict[str, uuid.UUID] = {}
    (s["talked"], s["private"], s["gone_agent"], s["silent"], s["tied"]) = [
        row.id for row in await make_sessions(container, member, public.id, 5)
    ]
    async with container.db.transaction() as db:
        folder = Folder(owner_id=member.id, name="Leave")
        gone_folder = Folder(owner_id=member.id, name="Old")
        db.add_all([folder, gone_folder])
    await _move(container, s["private"], agent_id=private.id)
    await _move(container, s["gone_agent"], agent_id=gone.id, folder_id=gone_folder.id)
    await _move(container, s["silent"], folder_id=folder.id)
    await _soft_delete(container, Agent, gone.id)
    await _soft_delete(container, Folder, gone_folder.id)

    first = await _message(container, s["talked"], "first")
    await _message(container, s["talked"], "newest", parent_id=first, citations=[{"title": "T"}])
    deleted = await _message(container, s["talked"], "deleted, and newer still")
    await _soft_delete(container, ChatMessage, deleted)
    await _message(container, s["private"], "to a private agent", unsupported_spans=["15"])
    # Two messages written at the same instant: the newest is the greater id.
    instant = datetime.now(UTC)
    tied = [await _message(container, s["tied"], str(i), created_at=instant) for i in range(2)]
    s["tie"] = max(tied)

    (deleted_session,) = await make_sessions(container, member, public.id, 1)
    await _soft_delete(container, ChatSession, deleted_session.id)
    return member, s


async def test_the_list_shows_what_each_session_shows_on_its_own(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    member, s = await _a_member_with_everything(container, people)
    someone_else = await people.member()
    await make_sessions(
        container, someone_else, (await make_agent(container, await people.admin())).id, 2
    )

    listed = await _listed(gql, member)

    # Owner scoping and soft delete: the member's live sessions, nobody else's.
    assert {node["id"] for node in listed} == {
        str(s[key]) for key in ("talked", "private", "gone_agent", "silent", "tied")
    }
    for node in listed:
        alone = await gql.data(ONE, {"id": node["id"]}, token=member.token)
        assert node == alone["chatSession"], node["title"]
    by_id = {uuid.UUID(node["id"]): node for node in listed}
    talked = by_id[s["talked"]]
    assert talked["lastMessage"]["content"] == "newest"
    assert talked["lastMessage"]["citations"] == [{"title": "T"}]
    assert talked["agent"]["visibility"] == "PUBLIC"
    assert by_id[s["private"]]["agent"] is None
    assert by_id[s["private"]]["lastMessage"]["unsupportedSpans"] == ["15"]
    assert by_id[s["gone_agent"]]["agent"] is None
    assert by_id[s["gone_agent"]]["folder"] is None
    assert by_id[s["silent"]]["lastMessage"] is None
    assert by_id[s["silent"]]["folder"]["name"] == "Leave"
    assert by_id[s["tied"]]["lastMessage"]["id"] == str(s["tie"])


async def test_pages_and_filters_carry_the_same_nested_data(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    member, s = await _a_member_with_everything(container, people)
    everything = await _listed(gql, member)

    paged: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gql.data(LIST, {"first": 2, "after": after}, token=member.token)
        page = data["chatSessions"]
        paged += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == everything

    silent = next(node for node in everything if uuid.UUID(node["id"]) == s["silent"])
    filtered = await _listed(gql, member, filter={"folderId": silent["folder"]["id"]})
    assert filtered == [silent]


async def test_an_administrator_sees_any_agent_beside_their_own_sessions(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin, other_admin = await people.admin(), await people.admin()
    (session,) = await make_sessions(container, admin, (await make_agent(container, admin)).id, 1)
    private = await make_agent(container, other_admin, visibility=Visibility.PRIVATE)
    await _move(container, session.id, agent_id=private.id)

    (node,) = await _listed(gql, admin)

    assert node["agent"]["id"] == str(private.id)


async def test_the_list_reads_only_what_the_query_asks_for_in_one_statement(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    count_statements: StatementCounter,
) -> None:
    member, s = await _a_member_with_everything(container, people)
    await gql.data("{ viewer { email } }", token=member.token)  # warm the user cache

    count_statements.count = 0
    titles = await gql.data(
        "{ chatSessions { ... on ChatSessionConnection { edges { node { title } } } } }",
        token=member.token,
    )
    assert len(titles["chatSessions"]["edges"]) == 5
    assert count_statements.count == 1
    (statement,) = count_statements.statements[-1:]
    assert "JOIN agent" not in statement
    assert "chat_message" not in statement

    count_statements.count = 0
    fragments = await gql.data(THROUGH_A_FRAGMENT, token=member.token)
    assert count_statements.count == 1
    (statement,) = count_statements.statements[-1:]
    # The agent's name and the message's content, not the columns no field shows.
    assert "agent.name" in statement
    assert "chat_message.content" in statement
    assert "system_prompt" not in statement
    assert "citations" not in statement
    nodes = {
        uuid.UUID(edge["node"]["id"]): edge["node"] for edge in fragments["chatSessions"]["edges"]
    }
    assert nodes[s["talked"]]["lastMessage"] == {"content": "newest"}
    assert nodes[s["private"]]["agent"] is None


FIELDS = """
query ($name: String!) {
  __type(name: $name) {
    fields { name type { ...Named ofType { ...Named ofType { ...Named ofType { ...Named } } } } }
  }
}
fragment Named on __Type { name kind fields { name type { kind ofType { kind } } } }
"""


async def _selections(gql: GraphQLClient, person: Person, type_name: str) -> dict[str, str]:
    """Each field of the type, as a selection: an object's scalar fields under it."""
    described = await gql.data(FIELDS, {"name": type_name}, token=person.token)
    selections = {}
    for field in described["__type"]["fields"]:
        named = field["type"]
        while named["kind"] in ("NON_NULL", "LIST"):
            named = named["ofType"]
        if named["kind"] != "OBJECT":
            selections[field["name"]] = field["name"]
            continue
        leaves = [
            sub["name"]
            for sub in named["fields"]
            if "SCALAR" in (sub["type"]["kind"], (sub["type"]["ofType"] or {}).get("kind"))
            or "ENUM" in (sub["type"]["kind"], (sub["type"]["ofType"] or {}).get("kind"))
        ]
        selections[field["name"]] = f"{field['name']} {{ {' '.join(leaves)} }}"
    return selections


async def test_each_field_of_the_agent_and_the_message_alone_shows_what_it_shows_alone(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    """The list reads only the columns the selected fields show: each field, asked
    alone, shows what the single session shows (values unlike any placeholder)."""
    member, s = await _a_member_with_everything(container, people)
    async with container.db.transaction() as db:
        session = await db.get(ChatSession, s["talked"])
        assert session is not None
        await db.execute(
            update(Agent)
            .where(Agent.id == session.agent_id)
            .values(
                description="Leave and benefits",
                system_prompt="Answer from the handbook.",
                starter_messages=["How much leave?"],
                temperature=0.7,
                top_k=7,
                similarity_threshold=0.25,
                include_outdated=True,
                answer_mode=AnswerMode.GENERATIVE,
                general_chat=True,
                unsupported_numbers=UnsupportedNumbers.REFUSE,
                no_answer_message="Not in the handbook.",
                max_tokens=321,
                retention_days=45,
            )
        )
    async with container.db.read() as db:
        first = await db.scalar(
            select(ChatMessage.id).where(
                ChatMessage.session_id == s["talked"], ChatMessage.content == "first"
            )
        )
    await _message(  # a second version of the newest message: siblings to count
        container,
        s["talked"],
        "Fifteen days [1].",
        parent_id=first,
        role=MessageRole.ASSISTANT,
        status=MessageStatus.STREAMING,
        prompt_tokens=11,
        completion_tokens=12,
        error_code="LLM_TIMEOUT",
        time_to_first_token_ms=13,
        latency_ms=14,
        finish_reason="STOP",
        grounding="SUPPORTED",
        citations=[{"title": "Leave", "quote": "15 days", "documentId": str(uuid.uuid4())}],
        unsupported_spans=["15"],
    )
    async with container.db.read() as db:
        agent = await db.get(Agent, session.agent_id)
        message = await db.scalar(
            select(ChatMessage).where(ChatMessage.content == "Fifteen days [1].")
        )
    assert agent is not None
    assert message is not None
    for row in (agent, message):  # were a placeholder shown, the comparison would see it
        for column in row.__table__.columns:
            if column.name in UNREAD:
                assert getattr(row, column.name) != UNREAD[column.name], column.name
    agent_fields = await _selections(gql, member, "Agent")
    message_fields = await _selections(gql, member, "ChatMessage")
    assert {"systemPrompt", "llmModel", "noAnswerMessages"} <= set(agent_fields)
    assert {"citations", "siblingCount", "timeToFirstTokenMs"} <= set(message_fields)
    for nested, fields in (("agent", agent_fields), ("lastMessage", message_fields)):
        for name, selection in fields.items():
            node = f"id {nested} {{ {selection} }}"
            listed = await gql.data(
                f"{{ chatSessions(first: 50) {{ ... on ChatSessionConnection "
                f"{{ edges {{ node {{ {node} }} }} }} }} }}",
                token=member.token,
            )
            (talked,) = (
                edge["node"]
                for edge in listed["chatSessions"]["edges"]
                if edge["node"]["id"] == str(s["talked"])
            )
            one = f"chatSession(id: $id) {{ ... on ChatSession {{ {node} }} }}"
            alone = await gql.data(
                f"query ($id: ID!) {{ {one} }}", {"id": str(s["talked"])}, token=member.token
            )
            assert talked == alone["chatSession"], (nested, name)
