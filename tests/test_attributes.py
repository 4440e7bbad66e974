"""Employee attributes: administrators set them (checked, all at once), members read
their own and cannot change them, and one service method is the way they change."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ezhr_graphql.container import Container
from ezhr_graphql.errors import InvalidInputError, NotFoundError
from ezhr_graphql.models import EmploymentType, User
from ezhr_graphql.services.attributes import Attributes, Audience
from tests.conftest import GraphQLClient, PeopleFactory

SET_ATTRIBUTES = """
mutation ($id: ID!, $input: UserAttributesInput!) {
  setUserAttributes(userId: $id, input: $input) {
    __typename
    ... on User {
      id attributes { country office department employmentType preferredLanguage groups }
    }
    ... on UserError { code message }
    ... on InvalidInput { field }
  }
}"""
VIEWER = """
{ viewer { email attributes {
    country office department employmentType preferredLanguage groups } } }"""


async def set_attributes(
    gql: GraphQLClient, token: str, user_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    data = await gql.data(SET_ATTRIBUTES, {"id": user_id, "input": values}, token)
    result: dict[str, Any] = data["setUserAttributes"]
    return result


async def test_an_admin_sets_a_members_attributes_and_the_member_reads_them(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()
    given = {
        "country": " vn ",
        "office": "Hanoi",
        "department": "Engineering",
        "employmentType": "FULL_TIME",
        "preferredLanguage": "VI-vn",
        "groups": ["hanoi-staff", "engineers", "hanoi-staff"],
    }
    changed = await set_attributes(gql, admin.token, str(member.id), given)
    assert changed["__typename"] == "User"
    stored = {
        "country": "VN",
        "office": "Hanoi",
        "department": "Engineering",
        "employmentType": "FULL_TIME",
        "preferredLanguage": "vi-VN",
        "groups": ["hanoi-staff", "engineers"],
    }
    assert changed["attributes"] == stored
    viewer = (await gql.data(VIEWER, token=member.token))["viewer"]
    assert viewer["attributes"] == stored

    # All replaced at once: what is not given is cleared.
    again = await set_attributes(gql, admin.token, str(member.id), {"country": "US"})
    assert again["attributes"] == {
        "country": "US",
        "office": None,
        "department": None,
        "employmentType": None,
        "preferredLanguage": None,
        "groups": [],
    }
    # An administrator may set their own.
    own = await set_attributes(gql, admin.token, str(admin.id), {"country": "SG"})
    assert own["attributes"]["country"] == "SG"


async def test_members_and_anonymous_callers_cannot_set_attributes(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    member = await people.member()
    variables = {"id": str(member.id), "input": {"country": "US"}}
    refused = await gql(SET_ATTRIBUTES, variables, member.token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(SET_ATTRIBUTES, variables)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    viewer = (await gql.data(VIEWER, token=member.token))["viewer"]
    assert viewer["attributes"]["country"] is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "Vietnam"}, "country"),
        ({"office": "o" * 101}, "office"),
        ({"department": "tab\there"}, "department"),
        ({"preferredLanguage": "english"}, "preferredLanguage"),
        ({"preferredLanguage": "en-XX"}, "preferredLanguage"),
        ({"groups": [f"g{i}" for i in range(51)]}, "groups"),
        ({"groups": ["ok", " "]}, "groups"),
        ({"groups": ["nul\x00"]}, "groups"),
    ],
)
async def test_malformed_attributes_are_invalid_input_naming_the_field(
    gql: GraphQLClient, people: PeopleFactory, values: dict[str, Any], field: str
) -> None:
    admin, member = await people.admin(), await people.member()
    await set_attributes(gql, admin.token, str(member.id), {"country": "VN"})
    refused = await set_attributes(gql, admin.token, str(member.id), values)
    assert refused["__typename"] == "InvalidInput", refused
    assert refused["field"] == field
    # Nothing was changed.
    viewer = (await gql.data(VIEWER, token=member.token))["viewer"]
    assert viewer["attributes"]["country"] == "VN"


async def test_an_unknown_user_is_not_found(gql: GraphQLClient, people: PeopleFactory) -> None:
    admin = await people.admin()
    missing = await set_attributes(gql, admin.token, str(uuid.uuid4()), {"country": "VN"})
    assert missing["__typename"] == "NotFound"
    malformed = await set_attributes(gql, admin.token, "not-an-id", {"country": "VN"})
    assert (malformed["__typename"], malformed["field"]) == ("InvalidInput", "userId")


async def test_set_attributes_is_the_one_way_and_checks_whoever_calls_it(
    container: Container, people: PeopleFactory
) -> None:
    """What single sign-on calls with an identity provider's claims."""
    member = await people.member()
    async with container.db.transaction() as session:
        users = container.services(session).users
        user = await users.set_attributes(
            member.id,
            Attributes(country="us", employment_type=EmploymentType.CONTRACTOR, groups=("a",)),
        )
        assert (user.country, user.employment_type, user.groups) == (
            "US",
            EmploymentType.CONTRACTOR,
            ["a"],
        )
        with pytest.raises(InvalidInputError) as bad:
            await users.set_attributes(member.id, Attributes(country="ZZ"))
        assert bad.value.field == "country"
        with pytest.raises(NotFoundError):
            await users.set_attributes(uuid.uuid4(), Attributes(country="US"))
    async with container.db.read() as session:
        stored = await session.get(User, member.id)
        assert stored is not None
        assert Attributes.of(stored) == Attributes(
            country="US", employment_type=EmploymentType.CONTRACTOR, groups=("a",)
        )


def test_audience_values_are_checked_like_attributes() -> None:
    cleaned = Audience(countries=("vn", "VN", "us"), groups=("a", "a")).cleaned()
    assert cleaned["country"] == ["VN", "US"]
    assert cleaned["group"] == ["a"]
    assert Audience().everyone
    assert not Audience(offices=("Hanoi",)).everyone
    for audience, field in (
        (Audience(countries=("XX",)), "countries"),
        (Audience(countries=tuple(["VN"] * 101)), "countries"),
        (Audience(offices=("o" * 101,)), "offices"),
        (Audience(groups=("",)), "groups"),
    ):
        with pytest.raises(InvalidInputError) as bad:
            audience.cleaned()
        assert bad.value.field == field
