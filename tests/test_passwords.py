"""The password policy, wherever a password is set (registration is the API's one way)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.services.passwords import COMMON_PASSWORDS, PasswordPolicy
from ezhr_graphql.settings import DEVELOPMENT_ADMIN_PASSWORD, AuthSettings
from tests.conftest import GraphQLClient

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on UserError { message code }
    ... on InvalidInput { field }
  }
}"""


@pytest.mark.parametrize(
    ("email", "password", "complaint"),
    [
        ("ana@example.com", "short-pw", "at least 12 characters"),
        ("ana@example.com", "p" * 257, "at most 256 characters"),
        ("ana@example.com", "tab\tinside-it", "control characters"),
        ("ana@example.com", "nul\x00inside-it", "control characters"),
        ("ana@example.com", "newline-end\n", "control characters"),
        ("nguyen.van.a@example.com", "nguyen.van.a", "name of the email address"),
        ("nguyen.van.a@example.com", "NGUYEN.VAN.A-2024", "name of the email address"),
        ("kim@example.com", "kim@example.com", "name of the email address"),
        ("ana@example.com", "password1234", "most common passwords"),
        ("ana@example.com", "QwertyUiop123", "most common passwords"),
        ("ana@example.com", "correct horse battery staple", "most common passwords"),
    ],
)
async def test_a_weak_password_is_refused_with_the_reason(
    gql: GraphQLClient, email: str, password: str, complaint: str
) -> None:
    data = await gql.data(REGISTER, {"input": {"email": email, "password": password}})
    refused = data["register"]
    assert refused["__typename"] == "InvalidInput"
    assert refused["code"] == "INVALID_INPUT"
    assert refused["field"] == "password"
    assert complaint in refused["message"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ana@example.com", "x" * 12),  # the minimum
        ("ana@example.com", "x" * 256),  # the maximum
        ("ana@example.com", "banana split sundae"),  # a short local part may occur
        ("tran.thi.b@example.com", "Mật khẩu của tôi 2024"),  # any printable Unicode
        ("team@example.com", "correct horse battery"),
    ],
)
async def test_a_sound_password_is_accepted(gql: GraphQLClient, email: str, password: str) -> None:
    data = await gql.data(REGISTER, {"input": {"email": email, "password": password}})
    assert data["register"]["__typename"] == "AuthPayload"


def test_a_lone_surrogate_is_refused_before_hashing() -> None:
    # HTTP bodies refuse it as JSON already; anything else reaching the service would
    # otherwise fail in Argon2's UTF-8 encoding.
    with pytest.raises(InvalidInputError, match="control characters"):
        PasswordPolicy().check("lone-\ud800-surrogate", "a@example.com")


def test_the_limits_come_from_the_settings() -> None:
    policy = PasswordPolicy(min_length=16, max_length=20)
    with pytest.raises(InvalidInputError, match="at least 16"):
        policy.check("fifteen-chars-x", "a@example.com")
    with pytest.raises(InvalidInputError, match="at most 20"):
        policy.check("twenty-one-characters", "a@example.com")
    assert policy.check("sixteen-chars-xy", "a@example.com") == "sixteen-chars-xy"
    with pytest.raises(ValidationError):
        AuthSettings(min_password_length=30, max_password_length=20)
    defaults = AuthSettings()
    assert (defaults.min_password_length, defaults.max_password_length) == (12, 256)


def test_the_common_list_holds_what_a_lower_minimum_would_let_through() -> None:
    lax = PasswordPolicy(min_length=6)
    for common in ("123456", "password", "iloveyou", "Qwerty123"):
        with pytest.raises(InvalidInputError, match="most common"):
            lax.check(common, "someone@example.com")
    assert all(p == p.casefold() for p in COMMON_PASSWORDS)
    assert len(COMMON_PASSWORDS) >= 100


def test_the_development_admin_password_meets_the_length_rules() -> None:
    # The README promises the dev admin logs in with it (the seed does not apply the
    # name rule: the address is admin@...).
    assert DEVELOPMENT_ADMIN_PASSWORD not in COMMON_PASSWORDS
    PasswordPolicy().check(DEVELOPMENT_ADMIN_PASSWORD, "someone@example.com")
