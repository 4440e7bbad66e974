"""Who may read /metrics: callers with the metrics token and/or from the allowed
networks; with neither set, anyone in development and test, loopback callers only in
production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ezhr_graphql.app import create_app
from ezhr_graphql.settings import Environment, ServerSettings
from tests.conftest import SUITE_RATE_LIMITS, make_settings
from tests.databases import DbUnderTest

METRICS_TOKEN = "metrics-reader-token-0123456789abcdef"
ADDRESSES = (
    "10.1.2.3",
    "192.0.2.7",
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "2001:db8::5",
    "2001:db8::6",
)
LOOPBACK = ("127.0.0.1", "127.8.9.10", "::1")


@asynccontextmanager
async def served(
    database: DbUnderTest, **overrides: Any
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Clients of one app calling from a few addresses."""
    app = create_app(make_settings(database, **overrides))
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for address in ADDRESSES:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            clients[address] = httpx.AsyncClient(transport=transport, base_url="http://t")
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()
        await app.state.container.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == code
    assert body["errors"][0]["message"]
    assert "ezhr_graphql_operations_total" not in response.text


async def test_metrics_are_open_by_default(database: DbUnderTest) -> None:
    async with served(database) as clients:
        response = await clients["192.0.2.7"].get("/metrics")
    assert response.status_code == 200
    assert "ezhr_graphql_operations_total" in response.text


@pytest.mark.parametrize("env", [Environment.DEVELOPMENT, Environment.TEST])
async def test_metrics_are_open_outside_production(database: DbUnderTest, env: Environment) -> None:
    async with served(database, env=env) as clients:
        for client in clients.values():
            assert (await client.get("/metrics")).status_code == 200


async def test_production_serves_metrics_to_loopback_callers_only_by_default(
    database: DbUnderTest,
) -> None:
    async with served(database, env=Environment.PRODUCTION) as clients:
        for address in LOOPBACK:
            response = await clients[address].get("/metrics")
            assert response.status_code == 200, address
            assert "ezhr_graphql_operations_total" in response.text
        for address in set(ADDRESSES) - set(LOOPBACK):
            refused(await clients[address].get("/metrics"), 403, "FORBIDDEN")
        # The probes stay open.
        assert (await clients["192.0.2.7"].get("/healthz")).status_code == 200


async def test_production_behind_a_trusted_proxy_takes_the_forwarded_address(
    database: DbUnderTest,
) -> None:
    rate_limit = {**SUITE_RATE_LIMITS, "trusted_proxies": ["127.0.0.1"]}
    async with served(database, env=Environment.PRODUCTION, rate_limit=rate_limit) as clients:
        proxy = clients["127.0.0.1"]
        assert (await proxy.get("/metrics")).status_code == 200
        forwarded = {"x-forwarded-for": "192.0.2.99"}
        refused(await proxy.get("/metrics", headers=forwarded), 403, "FORBIDDEN")


async def test_an_allow_list_replaces_the_production_default(database: DbUnderTest) -> None:
    server = {"metrics_allow": ["10.0.0.0/8"]}
    async with served(database, env=Environment.PRODUCTION, server=server) as clients:
        assert (await clients["10.1.2.3"].get("/metrics")).status_code == 200
        for address in LOOPBACK:
            refused(await clients[address].get("/metrics"), 403, "FORBIDDEN")


async def test_a_token_replaces_the_production_default(database: DbUnderTest) -> None:
    server = {"metrics_token": METRICS_TOKEN}
    async with served(database, env=Environment.PRODUCTION, server=server) as clients:
        for address in ADDRESSES:
            response = await clients[address].get("/metrics", headers=bearer(METRICS_TOKEN))
            assert response.status_code == 200, address
        refused(await clients["127.0.0.1"].get("/metrics"), 401, "UNAUTHENTICATED")
        refused(await clients["192.0.2.7"].get("/metrics"), 401, "UNAUTHENTICATED")


async def test_a_metrics_token_is_required_when_set(database: DbUnderTest) -> None:
    async with served(database, server={"metrics_token": METRICS_TOKEN}) as clients:
        client = clients["192.0.2.7"]
        wrong = [{}, bearer("wrong"), bearer(METRICS_TOKEN + "x"), {"authorization": "Basic x"}]
        for headers in wrong:
            response = await client.get("/metrics", headers=headers)
            refused(response, 401, "UNAUTHENTICATED")
            assert response.headers["www-authenticate"].startswith("Bearer")
        response = await client.get("/metrics", headers=bearer(METRICS_TOKEN))
        assert response.status_code == 200
        assert "ezhr_graphql_operations_total" in response.text
        # The probes stay open.
        assert (await client.get("/healthz")).status_code == 200


async def test_only_allowed_addresses_read_metrics(database: DbUnderTest) -> None:
    server = {"metrics_allow": ["10.0.0.0/8", "2001:db8::5"]}
    async with served(database, server=server) as clients:
        assert (await clients["10.1.2.3"].get("/metrics")).status_code == 200
        assert (await clients["2001:db8::5"].get("/metrics")).status_code == 200
        refused(await clients["192.0.2.7"].get("/metrics"), 403, "FORBIDDEN")
        refused(await clients["127.0.0.1"].get("/metrics"), 403, "FORBIDDEN")
        # An address in the same /64 is another address.
        refused(await clients["2001:db8::6"].get("/metrics"), 403, "FORBIDDEN")


async def test_the_address_behind_a_trusted_proxy_is_the_callers(database: DbUnderTest) -> None:
    rate_limit = {**SUITE_RATE_LIMITS, "trusted_proxies": ["127.0.0.1"]}
    server = {"metrics_allow": ["10.0.0.0/8"]}
    async with served(database, server=server, rate_limit=rate_limit) as clients:
        proxy, direct = clients["127.0.0.1"], clients["192.0.2.7"]
        inside = {"x-forwarded-for": "10.9.9.9"}
        outside = {"x-forwarded-for": "10.9.9.9, 192.0.2.99"}
        assert (await proxy.get("/metrics", headers=inside)).status_code == 200
        refused(await proxy.get("/metrics", headers=outside), 403, "FORBIDDEN")
        # A caller that is no trusted proxy cannot claim another address.
        refused(await direct.get("/metrics", headers=inside), 403, "FORBIDDEN")


async def test_token_and_allow_list_are_both_required_when_both_set(
    database: DbUnderTest,
) -> None:
    server = {"metrics_token": METRICS_TOKEN, "metrics_allow": ["10.0.0.0/8"]}
    async with served(database, server=server) as clients:
        inside, outside = clients["10.1.2.3"], clients["192.0.2.7"]
        assert (await inside.get("/metrics", headers=bearer(METRICS_TOKEN))).status_code == 200
        refused(await inside.get("/metrics"), 401, "UNAUTHENTICATED")
        refused(await outside.get("/metrics", headers=bearer(METRICS_TOKEN)), 403, "FORBIDDEN")
        refused(await outside.get("/metrics"), 403, "FORBIDDEN")


def test_the_allow_list_must_hold_addresses_or_networks() -> None:
    with pytest.raises(ValidationError, match="not-an-address"):
        ServerSettings(metrics_allow=["not-an-address"])
    with pytest.raises(ValidationError):
        ServerSettings(metrics_token="")  # an empty token would let anyone in
