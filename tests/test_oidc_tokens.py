"""The ID token's checks, each on its own: tokens a real provider would not sign
(another audience, another issuer, expired, another nonce, another key...) are made
here with a test key, served by a small provider on loopback with a real discovery
document, key set and token endpoint. Each is refused with its own code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from tests.conftest import make_settings, serving
from tests.databases import DbUnderTest
from tests.oidc_provider import APP, CLIENT_ID, REDIRECT_URI, Browser, oidc_settings

Claims = dict[str, Any]


@dataclass
class FakeProvider:
    """Publishes a discovery document and a key set, and answers the token endpoint
    with the ID token ``make`` signs for the nonce of the sign-in."""

    key: RSAKey = field(default_factory=lambda: _rsa("test-key"))
    issuer: str = ""
    id_token: Callable[[FakeProvider, str], str] | None = None
    nonce: str = ""
    token_requests: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, _: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/auth",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, _: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def token(self, _: Request) -> JSONResponse:
        self.token_requests += 1
        assert self.id_token is not None
        body = {"access_token": "an-access-token", "token_type": "Bearer"}
        return JSONResponse({**body, "id_token": self.id_token(self, self.nonce)})

    def claims(self, nonce: str | None, **changes: Any) -> Claims:
        """Valid claims for the sign-in of ``nonce``, with ``changes`` (None: left out)."""
        now = int(time.time())
        claims: Claims = {
            "iss": self.issuer,
            "sub": "carol",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "carol@example.com",
            "email_verified": True,
            "name": "Carol",
            "hd": "example.com",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}


def _rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def signed(claims: Claims, key: RSAKey | OctKey, alg: str = "RS256") -> str:
    header = {"alg": alg, "kid": key.kid} if key.kid else {"alg": alg}
    return jwt.encode(header, claims, key, algorithms=[alg])


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    async with serving(fake.app()) as url:
        fake.issuer = url.replace("ws://", "http://").removesuffix("/graphql")
        yield fake


@asynccontextmanager
async def sso_server(database: DbUnderTest, issuer: str, **oidc: Any) -> AsyncIterator[Starlette]:
    settings = make_settings(database, oidc=oidc_settings(issuer, userinfo=False, **oidc))
    container = Container.build(settings)
    await container.start()
    try:
        yield create_app(settings, container)
    finally:
        await container.close()


async def sign_in(
    provider: FakeProvider,
    database: DbUnderTest,
    id_token: Callable[[FakeProvider, str], str],
    **oidc: Any,
) -> dict[str, str]:
    """Start a sign-in, then come back to the callback as the provider would; where
    the browser lands."""
    provider.id_token = id_token
    async with sso_server(database, provider.issuer, **oidc) as app, Browser(app) as browser:
        authorize = dict(parse_qsl(urlsplit(await browser.to_provider()).query))
        provider.nonce = authorize["nonce"]
        query = {"code": "a-code", "state": authorize["state"], "iss": provider.issuer}
        outcome = await browser.back_at(f"{REDIRECT_URI}?{urlencode(query)}")
    return outcome.fragment


def good(provider: FakeProvider, nonce: str) -> str:
    return signed(provider.claims(nonce), provider.key)


async def test_a_valid_id_token_signs_in(
    provider: FakeProvider, database: DbUnderTest, container: Container
) -> None:
    # The harness itself: a token that passes every check signs Carol in.
    assert set(await sign_in(provider, database, good)) == {"code"}


ANOTHER_KEY = _rsa("test-key")  # the same key id, another key
UNKNOWN_KEY = _rsa("never-published")

REFUSED: dict[str, tuple[Callable[[FakeProvider, str], str], str]] = {
    "another audience": (
        lambda p, n: signed(p.claims(n, aud="another-client"), p.key),
        "WRONG_AUDIENCE",
    ),
    "several audiences, no authorized party": (
        lambda p, n: signed(p.claims(n, aud=[CLIENT_ID, "another-client"]), p.key),
        "WRONG_AUDIENCE",
    ),
    "another authorized party": (
        lambda p, n: signed(p.claims(n, azp="another-client"), p.key),
        "WRONG_AUDIENCE",
    ),
    "another issuer": (
        lambda p, n: signed(p.claims(n, iss="https://evil.example.com"), p.key),
        "WRONG_ISSUER",
    ),
    "expired": (
        lambda p, n: signed(p.claims(n, exp=int(time.time()) - 3600), p.key),
        "TOKEN_EXPIRED",
    ),
    "another nonce": (lambda p, _: signed(p.claims("another-nonce"), p.key), "NONCE_MISMATCH"),
    "no nonce": (lambda p, _: signed(p.claims(None), p.key), "NONCE_MISMATCH"),
    "signed with another key": (lambda p, n: signed(p.claims(n), ANOTHER_KEY), "BAD_SIGNATURE"),
    "signed with a key never published": (
        lambda p, n: signed(p.claims(n), UNKNOWN_KEY),
        "BAD_SIGNATURE",
    ),
    "signed with the client secret": (
        lambda p, n: signed(p.claims(n), OctKey.import_key("ezhr-test-secret"), "HS256"),
        "INVALID_TOKEN",
    ),
    "issued in the future": (
        lambda p, n: signed(p.claims(n, iat=int(time.time()) + 3600), p.key),
        "INVALID_TOKEN",
    ),
    "no subject": (lambda p, n: signed(p.claims(n, sub=None), p.key), "INVALID_TOKEN"),
    "not a token": (lambda _, __: "not.a.token", "INVALID_TOKEN"),
    "no email": (lambda p, n: signed(p.claims(n, email=None), p.key), "CLAIMS_INVALID"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_id_token_failing_a_check_is_refused_with_its_code(
    case: str, provider: FakeProvider, database: DbUnderTest, container: Container
) -> None:
    make, code = REFUSED[case]
    fragment = await sign_in(provider, database, make)
    assert fragment["error"] == code, fragment
    assert "code" not in fragment


async def test_a_token_of_another_google_workspace_domain_is_refused(
    provider: FakeProvider, database: DbUnderTest, container: Container
) -> None:
    def elsewhere(p: FakeProvider, nonce: str) -> str:
        return signed(p.claims(nonce, hd="gmail.com"), p.key)

    assert set(await sign_in(provider, database, good, hosted_domain="example.com")) == {"code"}
    fragment = await sign_in(provider, database, elsewhere, hosted_domain="example.com")
    assert fragment["error"] == "DOMAIN_NOT_ALLOWED"
    no_domain = await sign_in(provider, database, elsewhere, hosted_domain="example.org")
    assert no_domain["error"] == "DOMAIN_NOT_ALLOWED"


async def test_the_domain_is_asked_of_google_when_configured(
    provider: FakeProvider, database: DbUnderTest, container: Container
) -> None:
    server = sso_server(database, provider.issuer, hosted_domain="example.com")
    async with server as app, Browser(app) as browser:
        authorize = dict(parse_qsl(urlsplit(await browser.to_provider()).query))
    assert authorize["hd"] == "example.com"


async def test_a_response_from_another_issuer_is_refused_before_the_code_is_used(
    provider: FakeProvider, database: DbUnderTest, container: Container
) -> None:
    provider.id_token = good
    before = provider.token_requests
    async with sso_server(database, provider.issuer) as app, Browser(app) as browser:
        state = dict(parse_qsl(urlsplit(await browser.to_provider()).query))["state"]
        query = {"code": "a-code", "state": state, "iss": "https://mix-up.example.com"}
        outcome = await browser.back_at(f"{REDIRECT_URI}?{urlencode(query)}")
    assert outcome.fragment["error"] == "WRONG_ISSUER"
    assert provider.token_requests == before


async def test_an_unreachable_provider_is_reported_to_the_app(
    database: DbUnderTest, container: Container
) -> None:
    # A port nothing listens on: the discovery document cannot be read.
    async with sso_server(database, "http://127.0.0.1:9") as app, Browser(app) as browser:
        started = await browser.go(f"{APP}/auth/oidc/login")
    assert started.status_code == 303
    fragment = dict(parse_qsl(urlsplit(started.headers["location"]).fragment))
    assert fragment["error"] == "PROVIDER_UNAVAILABLE"
    assert "cannot be reached" in fragment["error_description"]


@pytest.mark.parametrize(
    "document",
    [
        {"authorization_endpoint": 42},  # and no token endpoint nor keys
        {"authorization_endpoint": "ftp://example.com/auth", "jwks_uri": "x"},
        "not an object",
    ],
)
async def test_an_unusable_discovery_document_is_reported_to_the_app(
    document: Any, database: DbUnderTest, container: Container
) -> None:
    async def discovery(request: Request) -> JSONResponse:
        issuer = str(request.base_url).rstrip("/")
        body = {"issuer": issuer, **document} if isinstance(document, dict) else document
        return JSONResponse(body)

    broken = Starlette(routes=[Route("/.well-known/openid-configuration", discovery)])
    async with serving(broken) as url:
        issuer = url.replace("ws://", "http://").removesuffix("/graphql")
        async with sso_server(database, issuer) as app, Browser(app) as browser:
            started = await browser.go(f"{APP}/auth/oidc/login")
    assert started.status_code == 303
    fragment = dict(parse_qsl(urlsplit(started.headers["location"]).fragment))
    assert fragment["error"] == "PROVIDER_UNAVAILABLE", fragment
