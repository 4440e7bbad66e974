"""The audit log: who did what, when, from where; read by administrators only, and
never changed through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ezhr_graphql.api.graphql.schema import build_schema
from ezhr_graphql.container import Container
from ezhr_graphql.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD_FOR_PEOPLE, GraphQLClient, PeopleFactory

AUDIT_LOG = """
query ($first: Int!, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    __typename
    ... on AuditEventConnection {
      edges { node { id at actorId action targetType targetId address details { name value } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}
"""
SET_ROLE = """
mutation ($id: ID!, $role: Role!) {
  setUserRole(userId: $id, role: $role) { __typename ... on UserError { code } }
}
"""
LOGIN = """
mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password) { __typename }
}
"""
CREATE_AGENT_BAD = """
mutation { createAgent(input: {name: "", llmModelId: "x", embeddingModelId: "y"}) {
  __typename } }
"""


async def audit(
    gql: GraphQLClient, token: str, first: int = 50, **filter: Any
) -> list[dict[str, Any]]:
    data = await gql.data(AUDIT_LOG, {"first": first, "filter": filter or None}, token)
    page = data["auditLog"]
    assert page["__typename"] == "AuditEventConnection", page
    return [edge["node"] for edge in page["edges"]]


async def test_an_administrators_change_is_recorded_with_who_what_and_where(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()

    done = await gql.data(SET_ROLE, {"id": str(member.id), "role": "ADMIN"}, admin.token)

    assert done["setUserRole"]["__typename"] == "User"
    [event] = await audit(gql, admin.token, actions=["USER_ROLE_CHANGED"])
    assert event["actorId"] == str(admin.id)
    assert (event["targetType"], event["targetId"]) == ("User", str(member.id))
    assert event["address"] == "127.0.0.1"
    assert event["details"] == [{"name": "role", "value": "ADMIN"}]  # which way it went
    assert datetime.fromisoformat(event["at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_a_refused_or_failed_change_records_nothing(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin, member = await people.admin(), await people.member()

    refused = await gql(SET_ROLE, {"id": str(admin.id), "role": "MEMBER"}, member.token)
    failed = await gql.data(SET_ROLE, {"id": str(admin.id), "role": "MEMBER"}, admin.token)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert failed["setUserRole"]["code"] == "PERMISSION_DENIED"  # not themselves
    async with container.db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == AuditAction.USER_ROLE_CHANGED)
        )
    assert count == 0


async def test_sign_ins_are_recorded_and_failures_name_no_email(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()

    await gql.data(LOGIN, {"email": member.email, "password": PASSWORD_FOR_PEOPLE})
    await gql.data(LOGIN, {"email": member.email, "password": "wrong password!"})
    await gql.data(LOGIN, {"email": "nobody@example.com", "password": "wrong password!"})

    events = await audit(gql, admin.token, actions=["SIGN_IN", "SIGN_IN_FAILED"])
    seen = [(e["action"], e["actorId"]) for e in reversed(events)]
    assert seen == [
        ("SIGN_IN", str(member.id)),
        ("SIGN_IN_FAILED", str(member.id)),
        ("SIGN_IN_FAILED", None),
    ]
    assert "nobody@example.com" not in str(events)
    assert member.email not in str(events)
    assert {d["name"]: d["value"] for d in events[0]["details"]} == {
        "method": "password",
        "reason": "credentials",
    }


async def test_registering_is_the_new_accounts_first_sign_in(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    done = await gql.data(
        "mutation ($i: RegisterInput!) "
        "{ register(input: $i) { ... on AuthPayload { user { id } } } }",
        {"i": {"email": "new@example.com", "password": "a long enough password"}},
    )
    new_id = done["register"]["user"]["id"]
    [event] = await audit(gql, admin.token, actorId=new_id)
    assert event["action"] == "SIGN_IN"
    assert event["details"] == [{"name": "method", "value": "register"}]


async def test_the_log_pages_newest_first_and_filters(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    members = [await people.member() for _ in range(5)]
    for member in members:
        await gql.data(SET_ROLE, {"id": str(member.id), "role": "ADMIN"}, admin.token)

    seen: list[str] = []
    after = None
    while True:
        data = await gql.data(
            AUDIT_LOG,
            {"first": 2, "after": after, "filter": {"actorId": str(admin.id)}},
            admin.token,
        )
        page = data["auditLog"]
        seen += [edge["node"]["targetId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [str(m.id) for m in reversed(members)]
    [only] = await audit(gql, admin.token, targetId=str(members[2].id))
    assert only["targetId"] == str(members[2].id)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await audit(gql, admin.token, since=future) == []
    assert len(await audit(gql, admin.token, until=future, actorId=str(admin.id))) == 5


async def test_malformed_filters_are_invalid_input(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    cases = [
        ({"actorId": "not-an-id"}, "actorId"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
    ]
    for filter, field in cases:
        data = await gql.data(AUDIT_LOG, {"first": 5, "filter": filter}, admin.token)
        assert data["auditLog"]["__typename"] == "InvalidInput", (filter, data)
        assert data["auditLog"]["field"] == field
    bad_cursor = await gql.data(AUDIT_LOG, {"first": 5, "after": "!!"}, admin.token)
    assert bad_cursor["auditLog"]["__typename"] == "InvalidInput"


def test_the_api_offers_no_way_to_change_or_remove_an_event() -> None:
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    touching = [
        name
        for name, field in mutation.fields.items()
        if "audit" in name.lower() or any("Audit" in str(arg.type) for arg in field.args.values())
    ]
    assert touching == []
