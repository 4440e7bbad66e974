"""Failed sign-ins are limited per email and per address, in every process alike."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis

from ezhr_graphql.container import Container
from ezhr_graphql.errors import LimitExceededError
from ezhr_graphql.services.throttle import LoginThrottle, MemoryCounter, RedisCounter
from ezhr_graphql.settings import AuthSettings
from tests.conftest import SUITE_RATE_LIMITS, TEST_SECRET, GraphQLClient
from tests.databases import DbUnderTest
from tests.test_rate_limits import http, limited_app
from tests.tools import need_redis

LOGIN = """
mutation ($e: String!, $p: String!) {
  login(email: $e, password: $p) {
    __typename ... on UserError { code } ... on LimitExceeded { limit }
  }
}"""


async def test_too_many_failures_lock_the_email_but_not_others(
    gql: GraphQLClient, container: Container
) -> None:
    for email in ("locked@example.com", "free@example.com"):
        await gql.data(
            "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
            {"i": {"email": email, "password": "right-password-1"}},
        )
    limit = container.settings.auth.login_attempts_per_email
    for _ in range(limit):
        wrong = await gql.data(LOGIN, {"e": "locked@example.com", "p": "wrong-password"})
        assert wrong["login"]["__typename"] == "InvalidCredentials"
    refused = await gql.data(LOGIN, {"e": "LOCKED@example.com", "p": "right-password-1"})
    assert refused["login"] == {
        "__typename": "LimitExceeded",
        "code": "LIMIT_EXCEEDED",
        "limit": "loginAttempts",
    }
    other = await gql.data(LOGIN, {"e": "free@example.com", "p": "right-password-1"})
    assert other["login"]["__typename"] == "AuthPayload"


async def test_a_success_forgives_earlier_failures(
    gql: GraphQLClient, container: Container
) -> None:
    await gql.data(
        "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
        {"i": {"email": "typo@example.com", "password": "right-password-1"}},
    )
    limit = container.settings.auth.login_attempts_per_email
    for _ in range(2):
        for _ in range(limit - 1):
            await gql.data(LOGIN, {"e": "typo@example.com", "p": "wrong-password"})
        ok = await gql.data(LOGIN, {"e": "typo@example.com", "p": "right-password-1"})
        assert ok["login"]["__typename"] == "AuthPayload"


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_the_address_limit_and_the_window(backend: str) -> None:
    settings = AuthSettings(
        login_attempts_per_email=100, login_attempts_per_address=3, login_window_seconds=1
    )
    client = redis.from_url(need_redis()) if backend == "redis" else None
    counter = RedisCounter(client) if client is not None else MemoryCounter()
    throttle = LoginThrottle(counter, settings)
    address = f"192.0.2.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    try:
        for i in range(3):
            await throttle.check(f"user{i}@example.com", address)
            await throttle.failed(f"user{i}@example.com", address)
        with pytest.raises(LimitExceededError):
            await throttle.check("someone-else@example.com", address)
        # Another process sharing Redis sees the same count.
        if client is not None:
            with pytest.raises(LimitExceededError):
                await LoginThrottle(RedisCounter(client), settings).check("x@example.com", address)
    finally:
        if client is not None:
            await client.aclose()


async def test_a_nul_in_the_email_is_just_a_wrong_login(gql: GraphQLClient) -> None:
    # PostgreSQL text cannot hold NUL: it must never reach a query.
    body = await gql.data(LOGIN, {"e": "a\x00b@example.com", "p": "whatever-1"})
    assert body["login"]["__typename"] == "InvalidCredentials"
    cursor = await gql(
        "query ($a: String) { agents(after: $a) { __typename ... on InvalidInput { field } } }",
        {"a": "WyJcdTAwMDAiLCJ4Il0"},  # ["\\u0000","x"] as a cursor
        await _admin_token(gql),
    )
    assert cursor["data"]["agents"] == {"__typename": "InvalidInput", "field": "after"}


async def _admin_token(gql: GraphQLClient) -> str:
    """A signed-in user's token (agents are listed for any member)."""
    registered = await gql.data(
        "mutation ($i: RegisterInput!) { register(input: $i) { ... on AuthPayload { token } } }",
        {"i": {"email": f"c-{uuid.uuid4().hex[:6]}@example.com", "password": "cursor-pass-1"}},
    )
    token: str = registered["register"]["token"]
    return token


async def test_behind_a_trusted_proxy_sign_ins_count_by_the_callers_address(
    database: DbUnderTest,
) -> None:
    # One attacker behind the proxy must not lock out everyone else behind it.
    limits = {**SUITE_RATE_LIMITS, "trusted_proxies": ["192.0.2.0/24"]}
    auth = {"secret_key": TEST_SECRET, "login_attempts_per_address": 2}
    async with limited_app(database, limits, auth=auth) as app, http(app, "192.0.2.10") as proxy:

        async def login(caller: str, email: str) -> str:
            response = await proxy.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"e": email, "p": "wrong-password"}},
                headers={"x-forwarded-for": caller},
            )
            typename: str = response.json()["data"]["login"]["__typename"]
            return typename

        for i in range(2):
            assert await login("198.51.100.1", f"a{i}@example.com") == "InvalidCredentials"
        assert await login("198.51.100.1", "a9@example.com") == "LimitExceeded"
        assert await login("198.51.100.2", "b@example.com") == "InvalidCredentials"
        # An IPv6 caller counts by its /64: another address in it is the same caller.
        for i in range(2):
            assert await login(f"2001:db8::{i + 1}", f"c{i}@example.com") == "InvalidCredentials"
        assert await login("2001:db8::ffff", "c9@example.com") == "LimitExceeded"


async def test_the_email_key_is_a_digest_of_bounded_length() -> None:
    counter = MemoryCounter()
    throttle = LoginThrottle(counter, AuthSettings(login_attempts_per_email=1))
    email = "x" * 100_000 + "@Example.com "
    await throttle.failed(email, "192.0.2.1")
    assert max(len(key) for key in counter._counts) < 100
    with pytest.raises(LimitExceededError):  # the same email, however it is cased
        await throttle.check(email.strip().upper(), "192.0.2.2")
    await throttle.succeeded(email.lower())
    await throttle.check(email, "192.0.2.2")
