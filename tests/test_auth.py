"""Identity: register, login, bearer tokens, viewer, user administration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ezhr_graphql.container import Container
from ezhr_graphql.models import Role
from tests.conftest import GraphQLClient, PeopleFactory

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on AuthPayload { token expiresAt user { id email role displayName } }
    ... on UserError { message code }
    ... on InvalidInput { field }
    ... on Conflict { field }
  }
}"""

LOGIN = """
mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    __typename
    ... on AuthPayload { token user { email } }
    ... on UserError { message code }
  }
}"""

VIEWER = "{ viewer { email role } }"
USERS = "{ users(first: 10) { __typename ... on UserConnection { edges { node { email } } } } }"
SET_ROLE = """
mutation ($id: ID!, $role: Role!) {
  setUserRole(userId: $id, role: $role) {
    __typename ... on User { role } ... on UserError { code message }
  }
}"""
DELETE_USER = """
mutation ($id: ID!) { deleteUser(userId: $id) { __typename ... on UserError { code } } }"""


async def test_register_then_login_gives_a_token_that_identifies_the_user(
    gql: GraphQLClient,
) -> None:
    data = await gql.data(
        REGISTER,
        {"input": {"email": "Ana@Example.com", "password": "long enough pw", "displayName": "Ana"}},
    )
    registered = data["register"]
    assert registered["__typename"] == "AuthPayload"
    assert registered["user"] == {
        "id": registered["user"]["id"],
        "email": "ana@example.com",
        "role": "MEMBER",
        "displayName": "Ana",
    }

    login = (await gql.data(LOGIN, {"email": "ana@example.com", "password": "long enough pw"}))[
        "login"
    ]
    assert login["__typename"] == "AuthPayload"
    viewer = await gql.data(VIEWER, token=login["token"])
    assert viewer == {"viewer": {"email": "ana@example.com", "role": "MEMBER"}}


async def test_register_rejects_bad_input_with_the_field_at_fault(gql: GraphQLClient) -> None:
    cases = [
        ({"email": "not-an-email", "password": "long enough pw"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 300}, "password"),
        (
            {"email": "a@example.com", "password": "long enough", "displayName": "n" * 201},
            "displayName",
        ),
    ]
    for payload, field in cases:
        result = (await gql.data(REGISTER, {"input": payload}))["register"]
        assert result["__typename"] == "InvalidInput", payload
        assert result["field"] == field
        assert result["code"] == "INVALID_INPUT"
    assert (await gql.data(LOGIN, {"email": "a@example.com", "password": "long enough"}))["login"][
        "__typename"
    ] == "InvalidCredentials"


async def test_register_twice_is_a_conflict(gql: GraphQLClient) -> None:
    payload = {"input": {"email": "bo@example.com", "password": "long enough pw"}}
    assert (await gql.data(REGISTER, payload))["register"]["__typename"] == "AuthPayload"
    again = (await gql.data(REGISTER, payload))["register"]
    assert again["__typename"] == "Conflict"
    assert again["field"] == "email"


async def test_wrong_password_and_unknown_email_look_the_same(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    person = await people.member()
    wrong = (await gql.data(LOGIN, {"email": person.email, "password": "nope nope"}))["login"]
    unknown = (await gql.data(LOGIN, {"email": "who@example.com", "password": "nope nope"}))[
        "login"
    ]
    assert wrong == unknown
    assert wrong["code"] == "INVALID_CREDENTIALS"


async def test_anonymous_viewer_is_null_and_protected_fields_say_unauthenticated(
    gql: GraphQLClient,
) -> None:
    assert await gql.data(VIEWER) == {"viewer": None}
    body = await gql("{ agents { __typename } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_forged_expired_and_malformed_tokens_are_refused(
    gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    person = await people.member()
    expired, _ = container.tokens.issue(
        person.id, Role.MEMBER, now=datetime.now(UTC) - timedelta(days=30)
    )
    for token in (person.token[:-4] + "abcd", expired, "garbage"):
        body = await gql("{ agents { __typename } }", token=token)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert body["errors"][0]["message"] == "Invalid or expired token"
    response = await gql.http.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": "Basic abc"}
    )
    assert response.json() == {"data": {"viewer": None}}


async def test_a_deleted_users_token_stops_working(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    member = await people.member()
    assert (await gql.data(VIEWER, token=member.token))["viewer"]["email"] == member.email
    deleted = await gql.data(DELETE_USER, {"id": str(member.id)}, token=admin.token)
    assert deleted["deleteUser"]["__typename"] == "Deleted"
    body = await gql("{ agents { __typename } }", token=member.token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_admins_manage_users_and_members_are_forbidden(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    member = await people.member()
    listed = (await gql.data(USERS, token=admin.token))["users"]["edges"]
    assert {e["node"]["email"] for e in listed} == {admin.email, member.email}

    body = await gql(USERS, token=member.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    promoted = await gql.data(SET_ROLE, {"id": str(member.id), "role": "ADMIN"}, token=admin.token)
    assert promoted["setUserRole"] == {"__typename": "User", "role": "ADMIN"}

    self_demote = await gql.data(
        SET_ROLE, {"id": str(admin.id), "role": "MEMBER"}, token=admin.token
    )
    assert self_demote["setUserRole"]["__typename"] == "PermissionDenied"

    missing = await gql.data(
        SET_ROLE, {"id": "00000000-0000-0000-0000-000000000000", "role": "ADMIN"}, token=admin.token
    )
    assert missing["setUserRole"]["__typename"] == "NotFound"
    malformed = await gql.data(SET_ROLE, {"id": "nope", "role": "ADMIN"}, token=admin.token)
    assert malformed["setUserRole"]["__typename"] == "InvalidInput"


async def test_a_role_change_applies_at_once_in_the_same_process(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    member = await people.member()
    assert (await gql.data(VIEWER, token=member.token))["viewer"]["role"] == "MEMBER"
    body = await gql(USERS, token=member.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await gql.data(SET_ROLE, {"id": str(member.id), "role": "ADMIN"}, token=admin.token)
    # The token still says MEMBER; what counts is the user's current role.
    listed = await gql.data(USERS, token=member.token)
    assert listed["users"]["__typename"] == "UserConnection"
