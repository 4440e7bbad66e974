"""Single sign-on, rule by rule: claims mapped to attributes, groups to roles, the
person a sign-in names, the sealed sign-in state, and the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from ezhr_graphql.models import EmploymentType, Role, User
from ezhr_graphql.oidc_settings import ATTRIBUTE_NAMES, ClaimNames, OidcSettings
from ezhr_graphql.services.sso.accounts import apply_directory_attributes
from ezhr_graphql.services.sso.claims import (
    MAX_GROUPS,
    claim,
    directory_attributes,
    groups_left_out,
    identity,
    role_for,
)
from ezhr_graphql.services.sso.errors import SignInError, SignInFailure
from ezhr_graphql.services.sso.flow import FlowSealer, FlowState
from ezhr_graphql.settings import Settings

KEY = "a-signing-key-long-enough-for-the-tests-0123456789"
ISSUER = "https://login.example.com/tenant/v2.0"
ENTRA = ClaimNames(
    country="ctry", office="officeLocation", department="department", employment_type="jobType"
)


def test_every_configured_attribute_is_in_the_mapping_whatever_the_claims() -> None:
    # By default only the language (locale) and the groups have a claim.
    assert directory_attributes({}, ClaimNames()) == {"preferred_language": None, "groups": []}
    assert tuple(directory_attributes({}, ENTRA)) == ATTRIBUTE_NAMES


def test_attributes_are_read_from_the_configured_claims() -> None:
    claims = {
        "ctry": " VN ",
        "officeLocation": "Hanoi",
        "department": "People",
        "jobType": "FULL_TIME",
        "locale": "vi-VN",
        "groups": ["staff", "hr-admins", "staff", "", 42],
        "country": "ignored: not the configured claim",
    }
    assert directory_attributes(claims, ENTRA) == {
        "country": "VN",
        "office": "Hanoi",
        "department": "People",
        "employment_type": "FULL_TIME",
        "preferred_language": "vi-VN",
        "groups": ["staff", "hr-admins", "42"],
    }


def test_an_attribute_set_to_null_is_not_read() -> None:
    names = ClaimNames(preferred_language=None, groups=None)
    attributes = directory_attributes({"locale": "en", "groups": ["a"]}, names)
    assert "preferred_language" not in attributes
    assert "groups" not in attributes


def test_nested_and_dotted_claim_names() -> None:
    claims = {
        "address": {"country": "US", "locality": {"name": "Austin"}},
        "https://example.com/claims.department": "Sales",
    }
    assert claim(claims, "address.country") == "US"
    assert claim(claims, "address.locality.name") == "Austin"
    assert claim(claims, "address.region") is None
    assert claim(claims, "address.country.code") is None
    # A namespaced claim that holds dots itself is found whole.
    assert claim(claims, "https://example.com/claims.department") == "Sales"
    names = ClaimNames(
        country="address.country", department="https://example.com/claims.department"
    )
    attributes = directory_attributes(claims, names)
    assert (attributes["country"], attributes["department"]) == ("US", "Sales")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hanoi", "Hanoi"),
        (1234, "1234"),
        (["Hanoi", "Saigon"], "Hanoi"),  # a multi-valued directory attribute
        (["", None, "Saigon"], "Saigon"),
        ("   ", None),
        ("x" * 201, None),
        ("nul\x00", None),
        (True, None),
        (1.5, None),
        ({"name": "Hanoi"}, None),
        (None, None),
    ],
)
def test_unusable_attribute_values_count_as_absent(value: Any, expected: str | None) -> None:
    assert directory_attributes({"office": value}, ClaimNames(office="office"))["office"] == (
        expected
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("one-group", ["one-group"]),
        (["b", "a", "b"], ["b", "a"]),
        ([["nested"], {"x": 1}, "ok"], ["ok"]),
        ({"not": "a list"}, []),
        (None, []),
    ],
)
def test_groups_are_a_list_of_texts_each_once(value: Any, expected: list[str]) -> None:
    assert directory_attributes({"groups": value}, ClaimNames())["groups"] == expected


def test_groups_are_capped() -> None:
    many = [f"g{i}" for i in range(MAX_GROUPS + 10)]
    assert directory_attributes({"groups": many}, ClaimNames())["groups"] == many[:MAX_GROUPS]


def test_groups_left_out_by_the_provider_are_noticed() -> None:
    overage = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {}}}
    assert groups_left_out(overage, ClaimNames())
    assert not groups_left_out({"groups": ["a"]}, ClaimNames())
    assert not groups_left_out(overage, ClaimNames(groups=None))


def test_admin_groups_make_administrators_and_only_they() -> None:
    assert role_for(["staff", "hr-admins"], ["hr-admins"]) is Role.ADMIN
    assert role_for(["staff"], ["hr-admins"]) is Role.MEMBER
    assert role_for([], ["hr-admins"]) is Role.MEMBER
    # No admin groups configured: sign-in leaves roles as administrators set them.
    assert role_for(["hr-admins"], []) is None


def test_the_person_a_sign_in_names() -> None:
    person = identity(
        ISSUER,
        {
            "sub": "00u1",
            "email": " Alice@Example.COM ",
            "email_verified": True,
            "name": "Alice Nguyen",
            "groups": ["staff"],
        },
        ClaimNames(),
    )
    assert (person.issuer, person.subject) == (ISSUER, "00u1")
    assert person.email == "alice@example.com"
    assert person.email_verified is True
    assert person.display_name == "Alice Nguyen"
    assert person.groups == ["staff"]
    assert person.attributes["groups"] == ["staff"]


def test_the_email_claim_can_be_another_and_the_name_defaults_to_the_email() -> None:
    claims = {"sub": "s", "preferred_username": "bob@corp.example.com", "email_verified": "true"}
    person = identity(ISSUER, claims, ClaimNames(email="preferred_username"))
    assert person.email == "bob@corp.example.com"
    assert person.display_name == "bob"
    assert person.email_verified is True
    assert (
        identity(
            ISSUER, {**claims, "email_verified": "yes"}, ClaimNames(email="preferred_username")
        ).email_verified
        is False
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "a@example.com"},
        {"sub": "", "email": "a@example.com"},
        {"sub": 12, "email": "a@example.com"},
        {"sub": "x" * 256, "email": "a@example.com"},
        {"sub": "s"},
        {"sub": "s", "email": "not an email"},
        {"sub": "s", "email": ["a@example.com"]},
    ],
)
def test_a_sign_in_without_a_usable_subject_or_email_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(SignInError) as refused:
        identity(ISSUER, claims, ClaimNames())
    assert refused.value.failure is SignInFailure.CLAIMS_INVALID


def test_the_sealed_state_opens_only_for_its_own_state_and_in_time() -> None:
    sealer = FlowSealer(KEY, ttl_seconds=600)
    flow = FlowState.new()
    sealed = sealer.seal(flow)
    assert sealer.open(sealed, flow.state) == flow
    other = FlowState.new()
    long_ago = datetime.now(UTC) - timedelta(seconds=601)
    refusals = [
        (sealed, other.state),  # the callback of another sign-in
        (sealed, None),
        (None, flow.state),  # no cookie
        (sealed, "not a state we issue"),
        (sealer.seal(flow, now=long_ago), flow.state),  # too late
        (FlowSealer("another-key-" + KEY, 600).seal(flow), flow.state),  # not ours
        (sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"), flow.state),
        (jwt.encode({"st": flow.state, "n": "n", "v": "v"}, KEY), flow.state),  # plain key
    ]
    for cookie, state in refusals:
        with pytest.raises(SignInError) as refused:
            sealer.open(cookie, state)
        assert refused.value.failure is SignInFailure.STATE_INVALID


def test_each_sign_in_has_its_own_state_nonce_and_verifier() -> None:
    flows = [FlowState.new() for _ in range(3)]
    values = {value for flow in flows for value in (flow.state, flow.nonce, flow.verifier)}
    assert len(values) == 9
    assert all(43 <= len(flow.verifier) <= 128 for flow in flows)


def _oidc(**values: Any) -> OidcSettings:
    complete = {
        "enabled": True,
        "issuer": ISSUER,
        "client_id": "app",
        "client_secret": "secret",
        "redirect_url": "https://hr.example.com/api/auth/oidc/callback",
        "spa_url": "https://hr.example.com/",
    }
    return OidcSettings(**{**complete, **values})


def test_single_sign_on_is_off_by_default_and_needs_its_settings_when_on() -> None:
    off = OidcSettings()
    assert off.enabled is False
    assert off.password_sign_in is True
    assert off.login_url is None
    assert _oidc().login_url == "https://hr.example.com/api/auth/oidc/login"
    with pytest.raises(ValidationError, match="EZHR_OIDC__ISSUER"):
        _oidc(issuer=None)
    with pytest.raises(ValidationError, match="EZHR_OIDC__SPA_URL"):
        _oidc(spa_url=None)
    with pytest.raises(ValidationError, match="absolute"):
        _oidc(redirect_url="/auth/oidc/callback")
    with pytest.raises(ValidationError, match="fragment"):
        _oidc(spa_url="https://hr.example.com/#/signed-in")
    with pytest.raises(ValidationError, match="openid"):
        _oidc(scopes=["email"])
    with pytest.raises(ValidationError, match="CLIENT_SECRET"):
        _oidc(client_secret=None)
    assert _oidc(client_secret=None, token_endpoint_auth_method="none").client_secret is None


def test_password_sign_in_cannot_be_turned_off_without_single_sign_on() -> None:
    with pytest.raises(ValidationError, match="nobody could sign in"):
        OidcSettings(password_sign_in=False)
    assert _oidc(password_sign_in=False).password_sign_in is False


def test_single_sign_on_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name, value in {
        "EZHR_OIDC__ENABLED": "true",
        "EZHR_OIDC__ISSUER": ISSUER,
        "EZHR_OIDC__CLIENT_ID": "app",
        "EZHR_OIDC__CLIENT_SECRET": "secret",
        "EZHR_OIDC__REDIRECT_URL": "https://hr.example.com/auth/oidc/callback",
        "EZHR_OIDC__SPA_URL": "https://hr.example.com/",
        "EZHR_OIDC__SCOPES": '["openid", "email", "profile", "groups"]',
        "EZHR_OIDC__ADMIN_GROUPS": '["hr-admins", "it-admins"]',
        "EZHR_OIDC__CLAIMS__DEPARTMENT": "department",
        "EZHR_OIDC__CLAIMS__COUNTRY": "address.country",
        "EZHR_OIDC__PASSWORD_SIGN_IN": "false",
    }.items():
        monkeypatch.setenv(name, value)
    oidc = Settings().oidc
    assert oidc.enabled is True
    assert oidc.client_secret is not None
    assert oidc.client_secret.get_secret_value() == "secret"
    assert oidc.scopes == ["openid", "email", "profile", "groups"]
    assert oidc.admin_groups == ["hr-admins", "it-admins"]
    assert (oidc.claims.department, oidc.claims.country) == ("department", "address.country")
    assert oidc.claims.groups == "groups"
    assert oidc.password_sign_in is False


def _employee() -> User:
    return User(
        email="employee@example.com",
        password_hash="x",
        role=Role.MEMBER,
        country="VN",
        office="Hanoi",
        department="People",
        employment_type=EmploymentType.FULL_TIME,
        preferred_language="vi",
        groups=["staff", "executives"],
    )


def test_attributes_without_a_configured_claim_keep_what_an_administrator_set() -> None:
    user = _employee()
    apply_directory_attributes(user, directory_attributes({"locale": "en-US"}, ClaimNames()))
    assert (user.country, user.office, user.department) == ("VN", "Hanoi", "People")
    assert user.employment_type == EmploymentType.FULL_TIME
    assert user.preferred_language == "en-US"  # configured (locale): the provider's
    assert user.groups == []  # configured, and the provider sends none now


def test_a_malformed_claim_leaves_its_attribute_unknown_and_the_rest_applied() -> None:
    user = _employee()
    claims = {
        "ctry": "UK",  # not an ISO code (GB is): must not keep VN
        "officeLocation": "Singapore",
        "department": "People",
        "jobType": "SEASONAL",  # none of ours
        "locale": "vi-VN",
        "groups": ["staff", "x" * 500],  # "executives" taken away; one group too long
    }
    apply_directory_attributes(user, directory_attributes(claims, ENTRA))
    assert user.country is None
    assert user.employment_type is None
    assert (user.office, user.department, user.preferred_language) == (
        "Singapore",
        "People",
        "vi-VN",
    )
    assert user.groups == ["staff"]
