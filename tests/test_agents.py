"""Agents: admins configure them, members use the ones visible to them."""

from __future__ import annotations

from sqlalchemy import update

from ezhr_graphql.container import Container
from ezhr_graphql.models import Agent, Visibility
from tests.conftest import GraphQLClient, PeopleFactory, Person
from tests.factories import make_agent

AGENT_FIELDS = """
id name description systemPrompt starterMessages temperature topK visibility
llmModel { name } embeddingModel { name dimensions }
"""
CREATE_AGENT = f"""
mutation ($input: CreateAgentInput!) {{
  createAgent(input: $input) {{
    __typename
    ... on Agent {{ {AGENT_FIELDS} }}
    ... on UserError {{ code message }}
    ... on InvalidInput {{ field }}
  }}
}}"""
UPDATE_AGENT = """
mutation ($id: ID!, $input: UpdateAgentInput!) {
  updateAgent(id: $id, input: $input) {
    __typename ... on Agent { name topK visibility } ... on UserError { code }
    ... on InvalidInput { field }
  }
}"""
SET_STARTERS = """
mutation ($id: ID!, $messages: [String!]!) {
  setAgentStarterMessages(id: $id, messages: $messages) {
    __typename ... on Agent { starterMessages } ... on InvalidInput { field }
  }
}"""
DELETE_AGENT = """
mutation ($id: ID!) { deleteAgent(id: $id) { __typename ... on UserError { code } } }"""
AGENTS = "{ agents { ... on AgentConnection { edges { node { name } } } } }"
AGENT = """
query ($id: ID!) {
  agent(id: $id) { __typename ... on Agent { name } ... on UserError { code } }
}"""


async def test_admin_creates_and_updates_an_agent_with_its_models(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    template = await make_agent(container, admin)
    payload = {
        "name": "Benefits bot",
        "description": "Answers benefits questions",
        "systemPrompt": "Be brief.",
        "starterMessages": ["What is covered?", "Nghỉ phép năm bao nhiêu ngày?"],
        "llmModelId": str(template.llm_model_id),
        "embeddingModelId": str(template.embedding_model_id),
        "temperature": 0.5,
        "topK": 6,
    }
    created = (await gql.data(CREATE_AGENT, {"input": payload}, token=admin.token))["createAgent"]
    assert created["__typename"] == "Agent"
    assert created["starterMessages"] == payload["starterMessages"]
    assert created["llmModel"]["name"].startswith("llm-")
    assert created["embeddingModel"]["dimensions"] == 8
    assert created["visibility"] == "PUBLIC"

    updated = await gql.data(
        UPDATE_AGENT,
        {"id": created["id"], "input": {"topK": 10, "visibility": "PRIVATE"}},
        token=admin.token,
    )
    assert updated["updateAgent"] == {
        "__typename": "Agent",
        "name": "Benefits bot",
        "topK": 10,
        "visibility": "PRIVATE",
    }
    starters = await gql.data(
        SET_STARTERS, {"id": created["id"], "messages": ["a", "b", "c", "d"]}, token=admin.token
    )
    assert starters["setAgentStarterMessages"]["starterMessages"] == ["a", "b", "c", "d"]


async def test_agent_input_errors_name_the_field(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    template = await make_agent(container, admin, name="Taken")
    base = {
        "name": "New",
        "llmModelId": str(template.llm_model_id),
        "embeddingModelId": str(template.embedding_model_id),
    }
    cases = [
        ({**base, "starterMessages": ["1", "2", "3", "4", "5"]}, "starterMessages"),
        ({**base, "starterMessages": ["x" * 501]}, "starterMessages"),
        ({**base, "temperature": 3.5}, "temperature"),
        ({**base, "topK": 0}, "topK"),
        ({**base, "llmModelId": "00000000-0000-0000-0000-000000000000"}, "llmModelId"),
        ({**base, "embeddingModelId": "nope"}, "embeddingModelId"),
        ({**base, "name": "n" * 201}, "name"),
    ]
    for payload, field in cases:
        result = (await gql.data(CREATE_AGENT, {"input": payload}, token=admin.token))[
            "createAgent"
        ]
        assert result["__typename"] == "InvalidInput", payload
        assert result["field"] == field
    duplicate = (
        await gql.data(CREATE_AGENT, {"input": {**base, "name": "Taken"}}, token=admin.token)
    )["createAgent"]
    assert duplicate["__typename"] == "Conflict"
    too_many = await gql.data(
        SET_STARTERS, {"id": str(template.id), "messages": ["1"] * 5}, token=admin.token
    )
    assert too_many["setAgentStarterMessages"] == {
        "__typename": "InvalidInput",
        "field": "starterMessages",
    }


async def test_members_see_public_agents_only_and_cannot_manage_them(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    public = await make_agent(container, admin, name="Public")
    private = await make_agent(container, admin, name="Private", visibility=Visibility.PRIVATE)

    assert (await gql.data(AGENTS, token=member.token))["agents"]["edges"] == [
        {"node": {"name": "Public"}}
    ]
    assert len((await gql.data(AGENTS, token=admin.token))["agents"]["edges"]) == 2
    hidden = await gql.data(AGENT, {"id": str(private.id)}, token=member.token)
    assert hidden["agent"] == {"__typename": "NotFound", "code": "NOT_FOUND"}

    for query, variables in (
        (DELETE_AGENT, {"id": str(public.id)}),
        (UPDATE_AGENT, {"id": str(public.id), "input": {"name": "mine"}}),
    ):
        body = await gql(query, variables, token=member.token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    deleted = await gql.data(DELETE_AGENT, {"id": str(public.id)}, token=admin.token)
    assert deleted["deleteAgent"] == {"__typename": "Deleted"}
    assert (await gql.data(AGENTS, token=member.token))["agents"]["edges"] == []
    gone = await gql.data(AGENT, {"id": str(public.id)}, token=admin.token)
    assert gone["agent"]["__typename"] == "NotFound"


AGENT_PAGE = """
query ($first: Int, $after: String) {
  agents(first: $first, after: $after) {
    ... on AgentConnection {
      edges { cursor node { name visibility starterMessages llmModel { name } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"""


async def test_agents_page_by_name_with_what_each_viewer_may_see(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    member = await people.member()
    for name in ("Delta", "Alpha", "Charlie", "Bravo"):
        await make_agent(container, admin, name=name)
    await make_agent(container, admin, name="Hidden", visibility=Visibility.PRIVATE)
    # A private agent of the member's own (one an administrator since demoted made).
    own = await make_agent(container, admin, name="Own", visibility=Visibility.PRIVATE)
    async with container.db.transaction() as db:
        await db.execute(update(Agent).where(Agent.id == own.id).values(owner_id=member.id))
    gone = await make_agent(container, admin, name="Echo")
    await gql.data(DELETE_AGENT, {"id": str(gone.id)}, token=admin.token)

    async def names(person: Person, first: int) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            variables = {"first": first, "after": after}
            page = (await gql.data(AGENT_PAGE, variables, token=person.token))["agents"]
            seen += [edge["node"]["name"] for edge in page["edges"]]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]

    visible = ["Alpha", "Bravo", "Charlie", "Delta", "Own"]
    assert await names(member, 2) == await names(member, 20) == visible
    assert await names(admin, 3) == ["Alpha", "Bravo", "Charlie", "Delta", "Hidden", "Own"]
    first = (await gql.data(AGENT_PAGE, {"first": 1}, token=member.token))["agents"]
    assert first["edges"][0]["node"]["llmModel"]["name"].startswith("llm-")
