"""Single sign-on end to end, against a real OpenID Connect provider (oidc-provider,
tests/oidc) on loopback: the redirect, its login and consent forms, the code
exchange with PKCE, the ID token's checks and userinfo, then the single-page app's
one-time code for the same token `login` gives."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import AuditAction, AuditEvent, EmploymentType, User
from ezhr_graphql.services.security import key_id
from ezhr_graphql.services.sso.flow import FlowSealer, FlowState
from tests.conftest import TEST_SECRET, GraphQLClient, PeopleFactory, make_settings
from tests.databases import DbUnderTest
from tests.oidc_provider import (
    APP,
    REDIRECT_URI,
    SPA_URL,
    Browser,
    oidc_settings,
    running_provider,
)

REDEEM = """
mutation ($code: String!) {
  redeemSignInCode(code: $code) {
    __typename
    ... on AuthPayload { token expiresAt user { id email role } }
    ... on UserError { code message }
  }
}"""
VIEWER = "{ viewer { id email displayName role active singleSignOn } }"
# Anonymous callers may ask for the viewer (null); this needs a signed-in user.
PROTECTED = "{ agents { __typename } }"
LOGIN = """
mutation ($e: String!, $p: String!) {
  login(email: $e, password: $p) {
    __typename ... on AuthPayload { token } ... on UserError { code message }
  }
}"""
DEACTIVATE = """
mutation ($id: ID!) { deactivateUser(userId: $id) { __typename ... on User { active } } }"""
REACTIVATE = """
mutation ($id: ID!) { reactivateUser(userId: $id) { __typename ... on User { active } } }"""
PASSWORD = "correct horse battery"


SIGN_INS = """
{ auditLog(first: 10, filter: {actions: [SIGN_IN, SIGN_IN_FAILED]}) {
    ... on AuditEventConnection { edges { node { action actorId details { name value } } } }
} }
"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with running_provider() as url:
        yield url


@asynccontextmanager
async def sso_server(database: DbUnderTest, issuer: str, **oidc: Any) -> AsyncIterator[Starlette]:
    """A server of its own (its own container) signing in through ``issuer``."""
    settings = make_settings(database, oidc=oidc_settings(issuer, **oidc))
    container = Container.build(settings)
    await container.start()
    try:
        yield create_app(settings, container)
    finally:
        await container.close()


@pytest.fixture
async def sso_app(
    database: DbUnderTest, issuer: str, container: Container
) -> AsyncIterator[Starlette]:
    # `container` (the suite's) migrated the database and empties it after each test.
    async with sso_server(database, issuer) as app:
        yield app


@asynccontextmanager
async def graphql(app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as http:
        yield GraphQLClient(http)


async def signed_in(app: Starlette, account: str) -> dict[str, Any]:
    """Sign ``account`` in through the provider; the AuthPayload of its code."""
    async with Browser(app) as browser:
        outcome = await browser.sign_in(account)
    assert "code" in outcome.fragment, outcome.fragment
    async with graphql(app) as gql:
        redeemed = (await gql.data(REDEEM, {"code": outcome.fragment["code"]}))["redeemSignInCode"]
    assert redeemed["__typename"] == "AuthPayload", redeemed
    return dict(redeemed)


async def refused(app: Starlette, account: str, **options: bool) -> dict[str, str]:
    async with Browser(app) as browser:
        outcome = await browser.sign_in(account, **options)
    assert "code" not in outcome.fragment
    return outcome.fragment


async def test_a_sign_in_through_the_provider_ends_with_the_token_login_gives(
    sso_app: Starlette, issuer: str, container: Container, people: PeopleFactory
) -> None:
    async with Browser(sso_app) as browser:
        # Given the browser is sent to the provider with PKCE, a nonce and a state
        authorize = await browser.to_provider()
        params = dict(parse_qsl(urlsplit(authorize).query))
        assert authorize.startswith(f"{issuer}/auth?")
        assert params["client_id"] == "ezhr"
        assert params["response_type"] == "code"
        assert params["redirect_uri"] == REDIRECT_URI
        assert params["scope"] == "openid email profile directory"
        assert params["code_challenge_method"] == "S256"
        assert len(params["code_challenge"]) == 43
        assert params["nonce"] != params["state"]
        # and the sign-in is kept in a signed, HttpOnly cookie for the callback only
        set_cookie = browser.hops[0].headers["set-cookie"]
        assert set_cookie.startswith(f"ezhr_oidc_{params['state']}=")
        for attribute in ("HttpOnly", "Max-Age=600", "Path=/auth/oidc/callback", "SameSite=lax"):
            assert attribute in set_cookie
        # When Alice signs in and consents at the provider
        back = await browser.through_provider(authorize, "alice")
        outcome = await browser.back_at(str(back.url.join(back.headers["location"])))
        # Then the single-page app gets a one-time code in the fragment, no token
        assert set(outcome.fragment) == {"code"}
        assert outcome.url.startswith(f"{SPA_URL}#code=")
        assert browser.cookie("ezhr_oidc_") == ("", "")  # the cookie is spent
    async with graphql(sso_app) as gql:
        redeemed = (await gql.data(REDEEM, {"code": outcome.fragment["code"]}))["redeemSignInCode"]
        assert redeemed["__typename"] == "AuthPayload"
        # which it exchanges once, for a token of the same make as login's
        token = redeemed["token"]
        local = await people.member()
        assert jwt.get_unverified_header(token) == jwt.get_unverified_header(local.token)
        assert jwt.get_unverified_header(token)["kid"] == key_id(TEST_SECRET)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert set(claims) == set(jwt.decode(local.token, options={"verify_signature": False}))
        verified = container.tokens.verify(token)
        assert str(verified.user_id) == redeemed["user"]["id"]
        viewer = (await gql.data(VIEWER, token=token))["viewer"]
        assert viewer == {
            "id": redeemed["user"]["id"],
            "email": "alice@example.com",
            "displayName": "Alice Nguyen",
            "role": "MEMBER",
            "active": True,
            "singleSignOn": True,
        }
        again = (await gql.data(REDEEM, {"code": outcome.fragment["code"]}))["redeemSignInCode"]
        assert again["__typename"] == "InvalidCredentials"
    async with container.db.read() as session:
        row = await session.get(User, uuid.UUID(viewer["id"]))
    assert row is not None
    assert (row.sso_issuer, row.sso_subject, row.password_hash) == (issuer, "alice", "")


async def test_each_sign_in_brings_the_account_up_to_date_by_issuer_and_subject(
    sso_app: Starlette, database: DbUnderTest, issuer: str, container: Container
) -> None:
    # Given Bob, in the provider's hr-admins group, signs in: he is an administrator
    first = await signed_in(sso_app, "bob")
    assert first["user"]["role"] == "ADMIN"
    # When he signs in again where only another group makes administrators, and his
    # name is read from another claim
    async with sso_server(
        database, issuer, admin_groups=["it-admins"], claims={"name": "email"}
    ) as other:
        second = await signed_in(other, "bob")
        async with graphql(other) as gql:
            viewer = (await gql.data(VIEWER, token=second["token"]))["viewer"]
    # Then he is the same user, with the role and name the provider now gives
    assert second["user"]["id"] == first["user"]["id"]
    assert second["user"]["role"] == "MEMBER"
    assert viewer["displayName"] == "bob@example.com"
    # And the audit log shows the directory's change of his role, by nobody here
    async with container.db.read() as session:
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.USER_ROLE_CHANGED)
        )
        changes = [(e.actor_id, e.target_id, e.details) for e in events]
    bob = uuid.UUID(first["user"]["id"])
    assert changes == [(None, bob, {"role": "MEMBER", "by": "directory"})]


async def test_the_providers_claims_reach_the_employee_attributes(
    sso_app: Starlette, container: Container
) -> None:
    signed = await signed_in(sso_app, "alice")
    # Alice's claims come from userinfo: the provider puts none in the ID token.
    async with container.db.read() as session:
        user = await session.get_one(User, uuid.UUID(signed["user"]["id"]))
    assert (user.country, user.office, user.department) == ("VN", "Hanoi", "People")
    assert user.employment_type is EmploymentType.FULL_TIME
    assert list(user.groups or []) == ["staff", "vn-all"]


async def test_a_code_replayed_at_the_provider_is_refused(sso_app: Starlette) -> None:
    async with Browser(sso_app) as browser:
        outcome = await browser.sign_in("alice")
        assert "code" in outcome.fragment
        # The same callback again, without the sign-in's cookie (spent)...
        without = await browser.back_at(outcome.callback)
        assert without.fragment["error"] == "STATE_INVALID"
        # ...and with it put back: the provider refuses the code a second time.
        name, value = outcome.cookie
        browser.http.cookies.set(name, value, domain="testserver.local", path="/auth/oidc/callback")
        replayed = await browser.back_at(outcome.callback)
    assert replayed.fragment["error"] == "CODE_REJECTED"
    assert "used already" in replayed.fragment["error_description"]


async def test_an_id_token_without_the_nonce_this_sign_in_sent_is_refused(
    sso_app: Starlette,
) -> None:
    sealer = FlowSealer(TEST_SECRET, 600)
    async with Browser(sso_app) as browser:
        authorize = await browser.to_provider()
        name, sealed = browser.cookie("ezhr_oidc_")
        state = name.removeprefix("ezhr_oidc_")
        flow = sealer.open(sealed, state)
        # The provider is asked for one nonce; the server now expects another.
        forged = sealer.seal(FlowState(state, "another-nonce", flow.verifier))
        browser.http.cookies.set(
            name, forged, domain="testserver.local", path="/auth/oidc/callback"
        )
        back = await browser.through_provider(authorize, "alice")
        outcome = await browser.back_at(str(back.url.join(back.headers["location"])))
    assert outcome.fragment["error"] == "NONCE_MISMATCH"


async def test_a_callback_that_is_not_this_browsers_sign_in_is_refused(sso_app: Starlette) -> None:
    async with Browser(sso_app) as first, Browser(sso_app) as second:
        authorize = await first.to_provider()
        back = await first.through_provider(authorize, "alice")
        callback = str(back.url.join(back.headers["location"]))
        # Another browser (with no sign-in of its own) is sent to that callback.
        assert (await second.back_at(callback)).fragment["error"] == "STATE_INVALID"
        # A state that names no cookie, none at all, or a cookie signed elsewhere
        query = dict(parse_qsl(urlsplit(callback).query))
        other_state = FlowState.new().state
        assert (
            await first.back_at(f"{REDIRECT_URI}?{urlencode({**query, 'state': other_state})}")
        ).fragment["error"] == "STATE_INVALID"
        assert (await first.back_at(f"{REDIRECT_URI}?code=x")).fragment["error"] == "STATE_INVALID"
        name, _ = first.cookie("ezhr_oidc_")
        flow = FlowState(name.removeprefix("ezhr_oidc_"), "n", "v" * 43)
        foreign = FlowSealer("some other server's key, long enough", 600).seal(flow)
        first.http.cookies.set(name, foreign, domain="testserver.local", path="/auth/oidc/callback")
        assert (await first.back_at(callback)).fragment["error"] == "STATE_INVALID"


async def test_declining_at_the_provider_ends_at_the_app_with_access_denied(
    sso_app: Starlette,
) -> None:
    fragment = await refused(sso_app, "alice", cancel=True)
    assert fragment["error"] == "ACCESS_DENIED"
    assert "aborted" in fragment["error_description"]


async def test_a_deactivated_user_cannot_sign_in_again_until_reactivated(
    sso_app: Starlette, people: PeopleFactory
) -> None:
    admin = await people.admin()
    alice = await signed_in(sso_app, "alice")
    async with Browser(sso_app) as browser:
        pending = (await browser.sign_in("alice")).fragment["code"]  # not redeemed yet
    async with graphql(sso_app) as gql:
        # When an administrator deactivates her
        done = await gql.data(DEACTIVATE, {"id": alice["user"]["id"]}, token=admin.token)
        assert done["deactivateUser"] == {"__typename": "User", "active": False}
        # Then her token, her pending code and the provider no longer sign her in
        refusal = await gql(PROTECTED, token=alice["token"])
        assert refusal["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        late = (await gql.data(REDEEM, {"code": pending}))["redeemSignInCode"]
        assert late["__typename"] == "PermissionDenied"
        fragment = await refused(sso_app, "alice")
        assert fragment["error"] == "ACCOUNT_DEACTIVATED"
        # When she is reactivated, she signs in again; her old token stays revoked
        await gql.data(REACTIVATE, {"id": alice["user"]["id"]}, token=admin.token)
        again = await signed_in(sso_app, "alice")
        assert again["user"]["id"] == alice["user"]["id"]
        assert (await gql.data(VIEWER, token=again["token"]))["viewer"]["active"] is True
        revoked = await gql(PROTECTED, token=alice["token"])
        assert revoked["errors"][0]["message"] == "This token was revoked; sign in again"
        # And the audit log shows each sign-in through the provider, and the refusal
        log = await gql.data(SIGN_INS, token=admin.token)
    events = [edge["node"] for edge in log["auditLog"]["edges"]]
    assert [(e["action"], e["actorId"]) for e in reversed(events)] == [
        ("SIGN_IN", alice["user"]["id"]),
        ("SIGN_IN", alice["user"]["id"]),
        ("SIGN_IN_FAILED", alice["user"]["id"]),
        ("SIGN_IN", alice["user"]["id"]),
    ]
    assert {"name": "reason", "value": "ACCOUNT_DEACTIVATED"} in events[1]["details"]


async def test_a_local_account_is_linked_on_a_verified_email_only(
    sso_app: Starlette,
    people: PeopleFactory,
    database: DbUnderTest,
    issuer: str,
    container: Container,
) -> None:
    # Alice had a local account; the provider vouches for her email: linked
    local = await people.make(email="alice@example.com")
    alice = await signed_in(sso_app, "alice")
    assert alice["user"]["id"] == str(local.id)
    async with graphql(sso_app) as gql:
        login = await gql.data(LOGIN, {"e": "alice@example.com", "p": PASSWORD})
        assert login["login"]["__typename"] == "AuthPayload"  # her password still works
    # Mallory signs in with the email of someone's account, unverified: refused
    taken = await people.make(email="taken@example.com")
    fragment = await refused(sso_app, "mallory")
    assert fragment["error"] == "EMAIL_IN_USE"
    # unless the provider's emails are trusted as they are
    async with sso_server(database, issuer, trust_email=True) as trusting:
        assert (await signed_in(trusting, "mallory"))["user"]["id"] == str(taken.id)
        # but an account tied to another identity is never taken over
        bob = await signed_in(trusting, "bob")
        async with container.db.transaction() as session:
            row = await session.get(User, uuid.UUID(bob["user"]["id"]))
            assert row is not None
            row.sso_subject = "someone-else"
        assert (await refused(trusting, "bob"))["error"] == "EMAIL_IN_USE"


async def test_an_account_made_by_single_sign_on_has_no_password(sso_app: Starlette) -> None:
    await signed_in(sso_app, "alice")
    async with graphql(sso_app) as gql:
        for password in ("", PASSWORD, "any password"):
            login = await gql.data(LOGIN, {"e": "alice@example.com", "p": password})
            assert login["login"]["__typename"] == "InvalidCredentials"


async def test_a_discovery_document_of_another_issuer_is_refused(
    database: DbUnderTest, issuer: str, container: Container
) -> None:
    # The provider's document names its issuer without the slash configured here.
    async with sso_server(database, f"{issuer}/") as app, Browser(app) as browser:
        started = await browser.go(f"{APP}/auth/oidc/login")
    assert started.status_code == 303
    fragment = dict(parse_qsl(urlsplit(started.headers["location"]).fragment))
    assert fragment["error"] == "WRONG_ISSUER"


async def test_password_sign_in_can_be_turned_off(
    database: DbUnderTest, issuer: str, people: PeopleFactory
) -> None:
    member = await people.member()
    async with sso_server(database, issuer, password_sign_in=False) as app, graphql(app) as gql:
        login = await gql.data(LOGIN, {"e": member.email, "p": PASSWORD})
        assert login["login"]["__typename"] == "PermissionDenied"
        assert "single sign-on" in login["login"]["message"]
        registered = await gql.data(
            "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
            {"i": {"email": "new@example.com", "password": "a long enough passphrase"}},
        )
        assert registered["register"]["__typename"] == "PermissionDenied"
        options = await gql.data("{ signInOptions { localAccounts singleSignOnUrl } }")
        assert options["signInOptions"] == {
            "localAccounts": False,
            "singleSignOnUrl": f"{APP}/auth/oidc/login",
        }
        assert (await signed_in(app, "alice"))["user"]["email"] == "alice@example.com"


async def test_without_single_sign_on_its_routes_say_so(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    for path in ("/auth/oidc/login", "/auth/oidc/callback?code=x&state=y"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "SSO_DISABLED"
    options = await gql.data("{ signInOptions { localAccounts singleSignOnUrl } }")
    assert options["signInOptions"] == {"localAccounts": True, "singleSignOnUrl": None}
