"""Folders, chat sessions and messages: each member sees and changes only their own."""

from __future__ import annotations

import uuid

from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage, MessageRole, MessageStatus
from tests.conftest import GraphQLClient, PeopleFactory
from tests.factories import make_agent, make_sessions

SESSION_FIELDS = "id title pinned folder { id name } agent { name }"
CREATE_SESSION = f"""
mutation ($input: CreateChatSessionInput!) {{
  createChatSession(input: $input) {{
    __typename ... on ChatSession {{ {SESSION_FIELDS} }}
    ... on UserError {{ code }} ... on InvalidInput {{ field }}
  }}
}}"""
SESSION = f"""
query ($id: ID!) {{
  chatSession(id: $id) {{
    __typename ... on ChatSession {{ {SESSION_FIELDS} }} ... on UserError {{ code message }}
    ... on InvalidInput {{ field }}
  }}
}}"""
SESSIONS = """
query ($first: Int, $after: String, $filter: ChatSessionFilter) {
  chatSessions(first: $first, after: $after, filter: $filter) {
    __typename
    ... on ChatSessionConnection {
      edges { cursor node { id title pinned } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    ... on InvalidInput { field message }
  }
}"""
RENAME = """
mutation ($id: ID!, $title: String!) {
  renameChatSession(id: $id, title: $title) {
    __typename ... on ChatSession { title } ... on UserError { code } ... on InvalidInput { field }
  }
}"""
PIN = """
mutation ($id: ID!, $pinned: Boolean!) {
  pinChatSession(id: $id, pinned: $pinned) { __typename ... on ChatSession { pinned } }
}"""
MOVE = """
mutation ($id: ID!, $folderId: ID) {
  moveChatSession(id: $id, folderId: $folderId) {
    __typename ... on ChatSession { folder { name } } ... on UserError { code }
    ... on InvalidInput { field }
  }
}"""
DELETE_SESSION = """
mutation ($id: ID!) { deleteChatSession(id: $id) { __typename ... on UserError { code } } }"""
CREATE_FOLDER = """
mutation ($name: String!) {
  createFolder(name: $name) { __typename ... on Folder { id name } ... on InvalidInput { field } }
}"""
RENAME_FOLDER = """
mutation ($id: ID!, $name: String!) {
  renameFolder(id: $id, name: $name) { __typename ... on Folder { name } ... on UserError { code } }
}"""
DELETE_FOLDER = """
mutation ($id: ID!) { deleteFolder(id: $id) { __typename ... on UserError { code } } }"""
FOLDERS = "{ folders { ... on FolderConnection { edges { node { name } } } } }"
MESSAGES = """
query ($sessionId: ID!, $first: Int, $after: String) {
  chatMessages(sessionId: $sessionId, first: $first, after: $after) {
    __typename
    ... on ChatMessageConnection {
      edges { node { content role status parentId } } pageInfo { hasNextPage endCursor }
    }
    ... on UserError { code }
  }
}"""


async def _add_messages(container: Container, session_id: uuid.UUID, count: int) -> None:
    async with container.db.transaction() as session:
        parent = None
        for i in range(count):
            message = ChatMessage(
                session_id=session_id,
                parent_id=parent,
                role=MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT,
                content=f"message {i}",
                status=MessageStatus.COMPLETED,
            )
            session.add(message)
            await session.flush()
            parent = message.id


async def test_a_member_organises_sessions_in_folders(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin, name="HR")

    folder = (await gql.data(CREATE_FOLDER, {"name": "Leave"}, token=member.token))["createFolder"]
    created = (
        await gql.data(
            CREATE_SESSION,
            {
                "input": {
                    "agentId": str(agent.id),
                    "title": "Annual leave",
                    "folderId": folder["id"],
                }
            },
            token=member.token,
        )
    )["createChatSession"]
    assert created["__typename"] == "ChatSession"
    assert created["agent"] == {"name": "HR"}
    assert created["folder"] == {"id": folder["id"], "name": "Leave"}
    session_id = created["id"]

    renamed = await gql.data(RENAME, {"id": session_id, "title": "Phép năm"}, token=member.token)
    assert renamed["renameChatSession"] == {"__typename": "ChatSession", "title": "Phép năm"}
    pinned = await gql.data(PIN, {"id": session_id, "pinned": True}, token=member.token)
    assert pinned["pinChatSession"]["pinned"] is True
    moved = await gql.data(MOVE, {"id": session_id, "folderId": None}, token=member.token)
    assert moved["moveChatSession"]["folder"] is None
    moved = await gql.data(MOVE, {"id": session_id, "folderId": folder["id"]}, token=member.token)
    assert moved["moveChatSession"]["folder"] == {"name": "Leave"}

    renamed_folder = await gql.data(
        RENAME_FOLDER, {"id": folder["id"], "name": "Time off"}, token=member.token
    )
    assert renamed_folder["renameFolder"]["name"] == "Time off"
    assert (await gql.data(DELETE_FOLDER, {"id": folder["id"]}, token=member.token))[
        "deleteFolder"
    ] == {"__typename": "Deleted"}
    # The session survives its folder.
    fetched = (await gql.data(SESSION, {"id": session_id}, token=member.token))["chatSession"]
    assert fetched["folder"] is None
    assert (await gql.data(FOLDERS, token=member.token))["folders"]["edges"] == []

    assert (await gql.data(DELETE_SESSION, {"id": session_id}, token=member.token))[
        "deleteChatSession"
    ] == {"__typename": "Deleted"}
    gone = (await gql.data(SESSION, {"id": session_id}, token=member.token))["chatSession"]
    assert gone["__typename"] == "NotFound"
    listed = (await gql.data(SESSIONS, token=member.token))["chatSessions"]
    assert listed["edges"] == []


async def test_another_member_can_neither_see_nor_touch_my_data(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    owner = await people.member()
    intruder = await people.member()
    agent = await make_agent(container, admin)
    (mine,) = await make_sessions(container, owner, agent.id, 1)
    await _add_messages(container, mine.id, 2)
    folder = (await gql.data(CREATE_FOLDER, {"name": "Mine"}, token=owner.token))["createFolder"]
    own_id = str(mine.id)
    missing_id = str(uuid.uuid4())

    # Reading another member's session looks exactly like reading one that does not exist.
    theirs = await gql.data(SESSION, {"id": own_id}, token=intruder.token)
    nothing = await gql.data(SESSION, {"id": missing_id}, token=intruder.token)
    assert theirs["chatSession"]["__typename"] == "NotFound"
    assert (
        theirs["chatSession"]["message"].replace(own_id, missing_id)
        == nothing["chatSession"]["message"]
    )

    for query, variables, field in (
        (RENAME, {"id": own_id, "title": "mine now"}, "renameChatSession"),
        (PIN, {"id": own_id, "pinned": True}, "pinChatSession"),
        (MOVE, {"id": own_id, "folderId": None}, "moveChatSession"),
        (DELETE_SESSION, {"id": own_id}, "deleteChatSession"),
        (MESSAGES, {"sessionId": own_id}, "chatMessages"),
        (RENAME_FOLDER, {"id": folder["id"], "name": "x"}, "renameFolder"),
        (DELETE_FOLDER, {"id": folder["id"]}, "deleteFolder"),
    ):
        result = (await gql.data(query, variables, token=intruder.token))[field]
        assert result["__typename"] == "NotFound", field

    # Nor can the intruder file their own session into my folder.
    (own_session,) = await make_sessions(container, intruder, agent.id, 1)
    result = await gql.data(
        MOVE, {"id": str(own_session.id), "folderId": folder["id"]}, token=intruder.token
    )
    assert result["moveChatSession"]["__typename"] == "InvalidInput"
    assert result["moveChatSession"]["field"] == "folderId"
    assert [
        e["node"]["id"]
        for e in (await gql.data(SESSIONS, token=intruder.token))["chatSessions"]["edges"]
    ] == [str(own_session.id)]
    # Admins manage agents and users, not other people's conversations.
    assert (await gql.data(SESSION, {"id": own_id}, token=admin.token))["chatSession"][
        "__typename"
    ] == "NotFound"
    # And the owner still has everything, unchanged.
    still = (await gql.data(SESSION, {"id": own_id}, token=owner.token))["chatSession"]
    assert still["title"] == "session 0"
    assert still["pinned"] is False


async def test_session_pages_are_stable_while_new_sessions_arrive(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin)
    await make_sessions(container, member, agent.id, 5)

    first = (await gql.data(SESSIONS, {"first": 2}, token=member.token))["chatSessions"]
    assert [e["node"]["title"] for e in first["edges"]] == ["session 4", "session 3"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False

    # New sessions appear at the top; the next page continues where the last one ended.
    await make_sessions(container, member, agent.id, 3)
    second = (
        await gql.data(
            SESSIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=member.token
        )
    )["chatSessions"]
    assert [e["node"]["title"] for e in second["edges"]] == ["session 2", "session 1"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    last = (
        await gql.data(
            SESSIONS, {"first": 2, "after": second["pageInfo"]["endCursor"]}, token=member.token
        )
    )["chatSessions"]
    assert [e["node"]["title"] for e in last["edges"]] == ["session 0"]
    assert last["pageInfo"]["hasNextPage"] is False


async def test_invalid_cursors_and_page_sizes_are_typed_errors(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    member = await people.member()
    for after in ("garbage!", "WyJub3QiXQ", "eyJhIjoxfQ", ""):
        result = (await gql.data(SESSIONS, {"after": after}, token=member.token))["chatSessions"]
        assert result["__typename"] == "InvalidInput", after
        assert result["field"] == "after"
    for first in (-1, 101):
        result = (await gql.data(SESSIONS, {"first": first}, token=member.token))["chatSessions"]
        assert result == {
            "__typename": "InvalidInput",
            "field": "first",
            "message": result["message"],
        }


async def test_sessions_filter_by_agent_folder_and_pin(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    hr = await make_agent(container, admin)
    payroll = await make_agent(container, admin)
    hr_sessions = await make_sessions(container, member, hr.id, 2)
    (payroll_session,) = await make_sessions(container, member, payroll.id, 1)
    folder = (await gql.data(CREATE_FOLDER, {"name": "F"}, token=member.token))["createFolder"]
    await gql.data(
        MOVE, {"id": str(hr_sessions[0].id), "folderId": folder["id"]}, token=member.token
    )
    await gql.data(PIN, {"id": str(payroll_session.id), "pinned": True}, token=member.token)

    async def titles(filter: dict[str, object]) -> list[str]:
        result = await gql.data(SESSIONS, {"filter": filter}, token=member.token)
        return sorted(e["node"]["id"] for e in result["chatSessions"]["edges"])

    assert await titles({"agentId": str(hr.id)}) == sorted(str(s.id) for s in hr_sessions)
    assert await titles({"folderId": folder["id"]}) == [str(hr_sessions[0].id)]
    assert await titles({"pinned": True}) == [str(payroll_session.id)]
    assert len(await titles({"pinned": False})) == 2
    bad = await gql.data(SESSIONS, {"filter": {"agentId": "x"}}, token=member.token)
    assert bad["chatSessions"]["field"] == "filter.agentId"


async def test_messages_come_oldest_first_in_pages(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin)
    (session,) = await make_sessions(container, member, agent.id, 1)
    await _add_messages(container, session.id, 5)

    page = (
        await gql.data(MESSAGES, {"sessionId": str(session.id), "first": 3}, token=member.token)
    )["chatMessages"]
    assert [e["node"]["content"] for e in page["edges"]] == ["message 0", "message 1", "message 2"]
    assert page["edges"][0]["node"]["role"] == "USER"
    assert page["edges"][1]["node"]["parentId"] is not None
    rest = (
        await gql.data(
            MESSAGES,
            {"sessionId": str(session.id), "after": page["pageInfo"]["endCursor"]},
            token=member.token,
        )
    )["chatMessages"]
    assert [e["node"]["content"] for e in rest["edges"]] == ["message 3", "message 4"]
    nested = await gql.data(
        """query ($id: ID!) { chatSession(id: $id) { ... on ChatSession {
             lastMessage { content } } } }""",
        {"id": str(session.id)},
        token=member.token,
    )
    assert nested["chatSession"]["lastMessage"] == {"content": "message 4"}


async def test_session_input_errors(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin)
    cases = [
        ({"agentId": "nope"}, "agentId"),
        ({"agentId": str(uuid.uuid4())}, "agentId"),
        ({"agentId": str(agent.id), "title": "t" * 201}, "title"),
        ({"agentId": str(agent.id), "folderId": str(uuid.uuid4())}, "folderId"),
    ]
    for payload, field in cases:
        result = (await gql.data(CREATE_SESSION, {"input": payload}, token=member.token))[
            "createChatSession"
        ]
        assert result["__typename"] == "InvalidInput", payload
        assert result["field"] == field
    (session,) = await make_sessions(container, member, agent.id, 1)
    empty = await gql.data(RENAME, {"id": str(session.id), "title": "  "}, token=member.token)
    assert empty["renameChatSession"]["__typename"] == "InvalidInput"
    assert empty["renameChatSession"]["field"] == "title"
    nul = await gql.data(RENAME, {"id": str(session.id), "title": "a\u0000b"}, token=member.token)
    assert nul["renameChatSession"]["__typename"] == "InvalidInput"


async def test_well_formed_cursors_with_wrong_values_are_typed_errors(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    import base64
    import json

    member = await people.member()

    def cursor(values: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    for values in (
        [5, "ok"],
        ["2020-01-01T00:00:00", str(uuid.uuid4())],
        ["2020-01-01T00:00:00+00:00", 7],
        [None, None],
        [["a"], {"b": 1}],
    ):
        result = (await gql.data(SESSIONS, {"after": cursor(values)}, token=member.token))[
            "chatSessions"
        ]
        assert result["__typename"] == "InvalidInput", values
    agents = await gql.data(
        "query ($after: String) { agents(after: $after) { __typename } }",
        {"after": cursor([["x"], str(uuid.uuid4())])},
        token=member.token,
    )
    assert agents["agents"]["__typename"] == "InvalidInput"


async def test_a_private_agent_does_not_leak_through_an_old_session(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin, name="Soon private")
    (session,) = await make_sessions(container, member, agent.id, 1)
    await gql.data(
        "mutation ($id: ID!) { updateAgent(id: $id, input: {visibility: PRIVATE}) { __typename } }",
        {"id": str(agent.id)},
        token=admin.token,
    )
    nested = await gql.data(
        "{ chatSessions { ... on ChatSessionConnection { edges { node { agent { name } } } } } }",
        token=member.token,
    )
    assert nested["chatSessions"]["edges"] == [{"node": {"agent": None}}]
    single = await gql.data(SESSION, {"id": str(session.id)}, token=member.token)
    assert single["chatSession"]["agent"] is None


async def test_later_fields_of_a_mutation_see_earlier_changes(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin)
    (session,) = await make_sessions(container, member, agent.id, 1)
    folder = (await gql.data(CREATE_FOLDER, {"name": "old"}, token=member.token))["createFolder"]
    await gql.data(MOVE, {"id": str(session.id), "folderId": folder["id"]}, token=member.token)
    result = await gql.data(
        """mutation ($s: ID!, $f: ID!) {
             a: pinChatSession(id: $s) { ... on ChatSession { folder { name } } }
             b: renameFolder(id: $f, name: "new") { __typename }
             c: pinChatSession(id: $s) { ... on ChatSession { folder { name } } }
           }""",
        {"s": str(session.id), "f": folder["id"]},
        token=member.token,
    )
    assert result["a"]["folder"] == {"name": "old"}
    assert result["c"]["folder"] == {"name": "new"}
