"""The cost limit: lists multiply what they select by their page size; over the budget,
the operation is refused before any resolver runs (``QUERY_TOO_COMPLEX``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import strawberry
from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    parse,
)

from ezhr_graphql.api.graphql.schema import Schema, build_schema, extensions
from ezhr_graphql.api.guards.cost import PAGE_SIZE_ARGUMENTS, QueryCost
from ezhr_graphql.settings import GraphQLSettings
from tests.conftest import GraphQLClient, PeopleFactory

CALLS: list[str] = []


@strawberry.type
class Item:
    name: str = "item"
    tags: list[str] = strawberry.field(default_factory=list)

    @strawberry.field
    def children(self) -> list[Item]:
        CALLS.append("children")
        return []


@strawberry.type
class ItemEdge:
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]
    has_more: bool


@strawberry.type
class CostQuery:
    @strawberry.field
    def items(self, first: int = 20) -> ItemConnection:
        CALLS.append("items")
        return ItemConnection(edges=[ItemEdge(node=Item())] * min(first, 3), has_more=True)

    @strawberry.field
    def recent(self, limit: int | None = None) -> list[Item]:
        CALLS.append("recent")
        return [Item()]


def cost_schema(**settings: Any) -> Schema:
    values: dict[str, Any] = {"max_cost": 1000, "max_page_size": 100, "assumed_list_size": 10}
    values.update(settings)
    return Schema(query=CostQuery, extensions=extensions(GraphQLSettings(**values)))


SCHEMA = cost_schema()
COSTING = QueryCost(max_cost=1000, max_page_size=100, assumed_list_size=10, cache_size=8)


def cost_of(document: str, variables: dict[str, Any] | None = None) -> int:
    return COSTING.cost(SCHEMA._schema, document, parse(document), None, variables)


@pytest.mark.parametrize(
    ("document", "cost"),
    [
        # items + edges + 50 * (node + name) + hasMore
        pytest.param("{ items(first: 50) { edges { node { name } } hasMore } }", 103, id="page"),
        pytest.param("{ items { edges { node { name } } } }", 42, id="default-page-size"),
        pytest.param("{ items(first: 5000) { edges { node { name } } } }", 202, id="capped"),
        pytest.param("{ recent { name } }", 101, id="no-default-is-the-max"),
        pytest.param("{ recent(limit: 3) { name } }", 4, id="limit"),
        # recent + 2 * (children + 10 * name): a list without a size is assumed 10 long
        pytest.param("{ recent(limit: 2) { children { name } } }", 23, id="nested-lists"),
        pytest.param("{ recent(limit: 2) { tags } }", 3, id="scalar-list"),
        pytest.param(
            "{ a: items(first: 2) { edges { node { name } } } "
            "b: items(first: 3) { edges { node { name } } } }",
            6 + 8,
            id="aliases-add-up",
        ),
        pytest.param(
            "{ __typename __schema { types { name fields { name } } } }",
            1,
            id="introspection-is-free",
        ),
    ],
)
def test_lists_multiply_what_they_select_by_their_page_size(document: str, cost: int) -> None:
    assert cost_of(document) == cost


def test_fragments_and_inline_fragments_cost_what_they_select() -> None:
    plain = "{ items(first: 5) { edges { node { name tags } } } }"
    inline = (
        "{ items(first: 5) { ... on ItemConnection { edges { node { ... { name tags } } } } } }"
    )
    spread = """
        query { items(first: 5) { ...Page } }
        fragment Page on ItemConnection { edges { node { ...Fields } } }
        fragment Fields on Item { name tags }
    """
    costs = {cost_of(plain), cost_of(inline), cost_of(spread)}
    assert costs == {1 + 1 + 5 * 3}


def test_page_sizes_given_as_variables_are_honoured_and_cached_per_value() -> None:
    document = "query ($n: Int!) { items(first: $n) { edges { node { name } } } }"
    assert cost_of(document, {"n": 50}) == 102
    assert cost_of(document, {"n": 5}) == 12
    assert cost_of(document, {"n": 50}) == 102  # the cache keeps both apart
    with_default = "query ($n: Int! = 7) { items(first: $n) { edges { node { name } } } }"
    assert cost_of(with_default) == 16
    assert cost_of(with_default, {"n": 2}) == 6
    # a value coercion will refuse is costed as the largest page
    assert cost_of(document, {"n": "many"}) == 202
    assert cost_of(document, {"n": [1]}) == 202
    assert cost_of(document, {"n": True}) == 202
    assert cost_of(document, {"n": 5.0}) == 12  # JSON's 5.0 is coerced to 5
    # a connection's page size only multiplies the list it holds
    fixed = "query ($x: Int) { items(first: 3) { hasMore } }"
    assert cost_of(fixed, {"x": 1}) == cost_of(fixed, {"x": 2}) == 2


def test_a_variable_sent_as_null_is_costed_apart_from_one_left_out() -> None:
    # given a page size variable whose document default differs from the argument's
    schema = build_schema()._schema
    costing = QueryCost(max_cost=25_000, max_page_size=100, assumed_list_size=10, cache_size=8)
    document = """
        query ($n: Int = 100) {
          agents(first: $n) { ... on AgentConnection { edges { node { collections { name } } } } }
        }"""

    def cost(variables: dict[str, Any] | None) -> int:
        return costing.cost(schema, document, parse(document), None, variables)

    def agents(n: int) -> int:  # agents + edges + n * (node + collections + 10 names)
        return 2 + n * (1 + 1 + 10)

    # when null is sent first: the argument's default (20 agents) is what runs
    assert cost({"n": None}) == agents(20)
    # then leaving the variable out is still costed at the document's default (100),
    # not served the cached cost of null
    assert cost(None) == cost({}) == agents(100)
    assert cost({"n": None}) == agents(20)
    # and a string that looks like a number is not the number
    assert cost({"n": 5.0}) == agents(5)
    assert cost({"n": "5.0"}) == agents(100)


# Lists the schema returns with no page size argument, each bounded by a rule of its
# own; the cost rule assumes `assumed_list_size` items for them.
BOUNDED_LISTS = {
    "Agent.starterMessages": "at most MAX_STARTER_MESSAGES (4)",
    "Agent.collections": "at most MAX_COLLECTIONS_PER_AGENT (20), listed for admins only",
    "Document.tags": "at most MAX_TAGS (20)",
    "ChatMessage.citations": "one per passage retrieved: at most the agent's topK (50)",
    "ReplyCitations.citations": "the same citations, streamed",
    "Agent.noAnswerMessages": "one per language replies are given in (2)",
    "ChatMessage.unsupportedSpans": "at most MAX_UNSUPPORTED_SPANS (20) per reply",
    "UserAttributes.groups": "at most MAX_GROUPS (50)",
    "Audience.countries": "at most MAX_AUDIENCE_VALUES (100), shown to admins only",
    "Audience.offices": "at most MAX_AUDIENCE_VALUES (100), shown to admins only",
    "Audience.departments": "at most MAX_AUDIENCE_VALUES (100), shown to admins only",
    "Audience.employmentTypes": "one per employment type (4)",
    "Audience.groups": "at most MAX_AUDIENCE_VALUES (100), shown to admins only",
    "AuditEvent.details": "the few facts the server records with an event (at most 6)",
    "InsightGroup.examples": "at most EXAMPLES (3)",
    "InsightGroup.comments": "at most COMMENTS (3)",
    "InsightGroup.kinds": "one per kind of signal (4)",
    "ApprovedAnswer.questions": "at most MAX_PHRASINGS (20)",
}


def test_every_list_the_schema_returns_has_a_bound() -> None:
    schema = build_schema()._schema
    unbounded = []
    for parent in schema.type_map.values():
        if parent.name.startswith("__"):
            continue
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            continue
        for name, definition in parent.fields.items():
            returned = definition.type
            if isinstance(returned, GraphQLNonNull):
                returned = returned.of_type
            paged = any(a in definition.args for a in PAGE_SIZE_ARGUMENTS)
            if "Connection" in get_named_type(returned).name or (
                name == "edges" and parent.name.endswith("Connection")
            ):
                # a connection's edges hold the page size of the field returning it
                assert paged or name == "edges", f"{parent.name}.{name} takes no page size"
                continue
            if isinstance(returned, GraphQLList) and not paged:
                unbounded.append(f"{parent.name}.{name}")
    assert sorted(unbounded) == sorted(BOUNDED_LISTS)


async def test_messages_nested_in_their_versions_are_costed_at_their_real_size(
    client: httpx.AsyncClient, people: PeopleFactory
) -> None:
    member = await people.member()
    # given versions of versions of versions of a whole branch
    nested = """
    query ($id: ID!) {
      chatSession(id: $id) {
        ... on ChatSession { currentBranch { siblings { siblings { siblings { content } } } } }
      }
    }"""
    response = await client.post(
        "/graphql",
        json={"query": nested, "variables": {"id": "00000000-0000-0000-0000-000000000000"}},
        headers={"authorization": f"Bearer {member.token}"},
    )
    # then the branch counts its 100 messages and each list of versions its 10
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] == 2 + 100 * (1 + 10 * (1 + 10 * (1 + 10)))


async def test_over_budget_operations_are_refused_before_any_resolver_runs() -> None:
    schema = cost_schema(max_cost=100)
    CALLS.clear()
    refused = await schema.execute(
        "query Big { items(first: 10) { edges { node { children { name } } } } }"
    )
    assert refused.data is None
    assert refused.errors is not None
    assert refused.errors[0].formatted == {
        "message": "This operation may resolve up to 122 fields, over the limit of 100: ask "
        "for smaller pages (`first`) or fewer nested lists.",
        "extensions": {"code": "QUERY_TOO_COMPLEX", "cost": 122, "maxCost": 100},
    }
    assert CALLS == []
    ran = await schema.execute("{ items(first: 2) { edges { node { children { name } } } } }")
    assert ran.errors is None
    assert CALLS[0] == "items"


async def test_fragments_spread_many_times_are_measured_once() -> None:
    # given fragments that each spread the next one twice: 2^40 fields in 400 tokens
    levels = 40
    fragments = "\n".join(
        f"fragment F{i} on CostQuery {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    )
    schema = cost_schema(max_aliases=1_000_000)
    # when they are costed and validated (a walk per spread would never end)
    costly = await schema.execute(
        f"query {{ ...F{levels} }} fragment F0 on CostQuery {{ __typename }} {fragments}"
    )
    assert costly.errors is not None
    assert costly.errors[0].extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": 2**levels,
        "maxCost": 1000,
    }
    aliased = await schema.execute(
        f"query {{ ...F{levels} }} fragment F0 on CostQuery {{ a: __typename }} {fragments}"
    )
    assert aliased.errors is not None
    assert aliased.errors[0].extensions == {"code": "TOO_MANY_ALIASES"}
    assert aliased.errors[0].message.startswith(f"{2**levels} aliases")
    deep = await cost_schema(max_depth=3).execute(
        "query Deep { ...A } fragment A on CostQuery { recent(limit: 1) { ...B ...B } }"
        " fragment B on Item { children { children { children { name } } } }"
    )
    assert deep.errors is not None
    assert deep.errors[0].extensions == {"code": "QUERY_TOO_DEEP"}
    assert deep.errors[0].message == "'Deep' exceeds maximum operation depth of 3"


@pytest.mark.parametrize(
    "document",
    [
        "query { ...A } fragment A on CostQuery { ...B } fragment B on CostQuery { ...A }",
        "query { ...Missing }",
    ],
)
async def test_cyclic_or_unknown_fragments_are_validation_errors(document: str) -> None:
    result = await cost_schema().execute(document)
    assert result.errors is not None
    assert all(not (e.extensions or {}).get("code") for e in result.errors)
    assert "fragment" in result.errors[0].message.lower()


SESSIONS = """
query Sessions($n: Int!) {
  chatSessions(first: $n) {
    ... on ChatSessionConnection {
      edges {
        node { id title currentBranch { id content citations { title quote } siblings { id } } }
      }
    }
  }
}
"""


async def test_the_api_refuses_costly_pages_over_http_and_runs_small_ones(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory
) -> None:
    member = await people.member()
    # 100 sessions * 10 messages * (10 citations + 10 siblings) is over the default budget
    refused = await client.post(
        "/graphql",
        json={"query": SESSIONS, "variables": {"n": 100}},
        headers={
            "authorization": f"Bearer {member.token}",
            "accept": "application/graphql-response+json",
        },
    )
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == 25_000
    small = await gql.data(SESSIONS, {"n": 5}, token=member.token)
    assert small == {"chatSessions": {"edges": []}}
