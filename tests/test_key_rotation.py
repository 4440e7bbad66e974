"""Rotating the signing key: tokens name their key (kid); keys listed as previous
still verify until their tokens expire; a key dropped from the list verifies nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets
from pydantic import ValidationError
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from ezhr_graphql.app import create_app
from ezhr_graphql.models import Role
from ezhr_graphql.services.security import InvalidTokenError, TokenIssuer, key_id
from ezhr_graphql.settings import Settings
from tests.conftest import TEST_SECRET, GraphQLClient, PeopleFactory, make_settings, serving
from tests.databases import DbUnderTest
from tests.wsclient import connect

NEW_SECRET = "the-rotated-signing-key-also-long-enough-9876543210"
VIEWER = "{ viewer { email } }"
PROTECTED = "{ agents { __typename } }"
_USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
LOGIN = """
mutation ($e: String!, $p: String!) {
  login(email: $e, password: $p) { ... on AuthPayload { token } }
}"""


@asynccontextmanager
async def worker(database: DbUnderTest, **auth: Any) -> AsyncIterator[Starlette]:
    app = create_app(make_settings(database, auth=auth))
    try:
        yield app
    finally:
        await app.state.container.close()


async def post(app: Starlette, query: str, token: str, **variables: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"} if token else {},
        )
    body: dict[str, Any] = response.json()
    return body


def unauthenticated(body: dict[str, Any]) -> bool:
    return bool(body.get("errors")) and body["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )


async def ws_viewer(url: str, token: str) -> str:
    async with connect(url, token) as connection:
        (data,) = [d async for d in connection.subscribe(VIEWER)]
    email: str = data["viewer"]["email"]
    return email


async def ws_refused(url: str, token: str) -> int | None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    return None if closed.value.rcvd is None else closed.value.rcvd.code


async def test_tokens_of_a_previous_key_work_until_the_key_is_dropped(
    database: DbUnderTest, people: PeopleFactory, gql: GraphQLClient
) -> None:
    # Given a token signed with the key in use so far
    member = await people.member()
    old_token = member.token
    assert jwt.get_unverified_header(old_token)["kid"] == key_id(TEST_SECRET)

    # When the key is rotated, the old one kept as previous
    async with worker(database, secret_key=NEW_SECRET, previous_secret_keys=[TEST_SECRET]) as app:
        # Then the old token still works, over HTTP and websockets
        assert (await post(app, VIEWER, old_token))["data"]["viewer"]["email"] == member.email
        async with serving(app) as url:
            assert await ws_viewer(url, old_token) == member.email
        # and new tokens are signed with the new key only
        login = await post(app, LOGIN, "", e=member.email, p="correct horse battery")
        new_token = login["data"]["login"]["token"]
        assert jwt.get_unverified_header(new_token)["kid"] == key_id(NEW_SECRET)
        jwt.decode(new_token, NEW_SECRET, algorithms=["HS256"], options={"verify_iss": False})
        assert (await post(app, VIEWER, new_token))["data"]["viewer"]["email"] == member.email
    # (a worker not yet rotated does not know the new key)
    assert unauthenticated(await gql(PROTECTED, token=new_token))

    # When the old key is dropped, its tokens stop working
    async with worker(database, secret_key=NEW_SECRET) as app:
        assert unauthenticated(await post(app, PROTECTED, old_token))
        assert (await post(app, VIEWER, new_token))["data"]["viewer"]["email"] == member.email
        async with serving(app) as url:
            assert await ws_refused(url, old_token) == 4403
            assert await ws_viewer(url, new_token) == member.email


def test_the_kid_names_the_key_without_revealing_it() -> None:
    issuer = TokenIssuer(NEW_SECRET, algorithm="HS256", ttl_seconds=3600, issuer="ezhr-graphql")
    token, _ = issuer.issue(_USER, Role.MEMBER)
    header = jwt.get_unverified_header(token)
    assert header["kid"] == hashlib.sha256(NEW_SECRET.encode()).hexdigest()[:8]
    assert NEW_SECRET not in json.dumps(header)
    assert issuer.verify(token).user_id == _USER


def _kidless(key: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(_USER),
        "role": "MEMBER",
        "iss": "ezhr-graphql",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        **claims,
    }
    return jwt.encode(payload, key, algorithm="HS256")


def test_tokens_without_a_kid_verify_against_every_known_key() -> None:
    rotated = TokenIssuer(
        NEW_SECRET,
        algorithm="HS256",
        ttl_seconds=3600,
        issuer="ezhr-graphql",
        previous_keys=[TEST_SECRET],
    )
    for key in (NEW_SECRET, TEST_SECRET):
        assert rotated.verify(_kidless(key)).user_id == _USER
    unknown = "a-key-this-deployment-never-had-0123456789abcdef"
    expired = _kidless(TEST_SECRET, exp=int(datetime.now(UTC).timestamp()) - 10)
    mislabelled = jwt.encode(
        {"sub": str(_USER), "iss": "ezhr-graphql", "iat": 0, "exp": 2**40},
        unknown,
        algorithm="HS256",
        headers={"kid": key_id(TEST_SECRET)},  # claims a known key, signed by another
    )
    for bad in (_kidless(unknown), expired, mislabelled):
        with pytest.raises(InvalidTokenError):
            rotated.verify(bad)
    with pytest.raises(InvalidTokenError, match="unknown key"):
        rotated.verify(jwt.encode({"sub": "x"}, unknown, headers={"kid": key_id(unknown)}))


def test_previous_keys_from_the_environment_and_their_length_outside_development(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("EZHR_ENV", "production")
    monkeypatch.setenv("EZHR_AUTH__SECRET_KEY", NEW_SECRET)
    monkeypatch.setenv("EZHR_AUTH__PREVIOUS_SECRET_KEYS", json.dumps([TEST_SECRET]))
    settings = Settings()
    assert [k.get_secret_value() for k in settings.auth.previous_secret_keys] == [TEST_SECRET]
    assert TEST_SECRET not in repr(settings.auth)
    monkeypatch.setenv("EZHR_AUTH__PREVIOUS_SECRET_KEYS", json.dumps([TEST_SECRET, "short"]))
    with pytest.raises(ValidationError, match="PREVIOUS_SECRET_KEYS"):
        Settings()
    monkeypatch.setenv("EZHR_ENV", "development")
    assert len(Settings().auth.previous_secret_keys) == 2
