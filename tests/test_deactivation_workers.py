"""Deactivation across workers: two server instances share the database and a Redis
broker, and keep what they know of users for an hour. A user deactivated through
one is refused by the other at once (its open websocket closed, its requests
refused), not an hour later; reactivated, they are let in again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from tests.conftest import TEST_SECRET, GraphQLClient, PeopleFactory, make_settings, serving
from tests.databases import DbUnderTest
from tests.test_deactivation import DEACTIVATE, LOGIN, PASSWORD, PROTECTED, REACTIVATE, code

# Far longer than any test: only the signal can tell a worker in time.
AN_HOUR = 3600


@dataclass
class Worker:
    container: Container
    app: Starlette
    gql: GraphQLClient
    ws_url: str


@pytest.fixture
async def workers(
    database: DbUnderTest, redis_url: str, container: Container
) -> AsyncIterator[list[Worker]]:
    """Two workers on the suite's database (``container`` empties it afterwards)."""
    auth = {"secret_key": TEST_SECRET, "user_cache_seconds": AN_HOUR}
    settings = make_settings(database, redis_url=redis_url, auth=auth)
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            worker = Container.build(settings)
            await worker.start()
            stack.push_async_callback(worker.close)
            app = create_app(settings, worker)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w")
            )
            url = await stack.enter_async_context(serving(app))
            made.append(Worker(worker, app, GraphQLClient(http), url))
        yield made


async def _connected(url: str, token: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    return ws


async def test_a_user_deactivated_on_one_worker_is_refused_by_the_other_at_once(
    workers: list[Worker], people: PeopleFactory
) -> None:
    a, b = workers
    admin, member = await people.admin(), await people.member()
    # Given worker B knows the member (cached for an hour) and holds their websocket
    assert "errors" not in await b.gql(PROTECTED, token=member.token)
    ws = await _connected(b.ws_url, member.token)
    try:
        # When worker A deactivates them
        done = await a.gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token)
        assert done["deactivateUser"]["active"] is False
        # Then B closes the websocket, having heard it through Redis
        with pytest.raises(ConnectionClosed) as closed:
            await _until_closed(ws)
    finally:
        await ws.close()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4403,
        "This account is deactivated",
    )
    # and refuses their requests, and a new websocket
    refused = await b.gql(PROTECTED, token=member.token)
    assert code(refused) == "UNAUTHENTICATED"
    with pytest.raises(ConnectionClosed):
        await _until_closed(await _connected_or_closed(b.ws_url, member.token))


async def test_a_user_reactivated_on_one_worker_is_let_in_by_the_other(
    workers: list[Worker], people: PeopleFactory
) -> None:
    a, b = workers
    admin, member = await people.admin(), await people.member()
    await a.gql.data(DEACTIVATE, {"id": str(member.id)}, admin.token)
    # B learns the member is deactivated (and would keep that for an hour)
    assert code(await b.gql(PROTECTED, token=member.token)) == "UNAUTHENTICATED"
    await a.gql.data(REACTIVATE, {"id": str(member.id)}, admin.token)
    login = (await a.gql.data(LOGIN, {"e": member.email, "p": PASSWORD}))["login"]
    assert login["__typename"] == "AuthPayload"
    # The signal travels on its own: wait for it rather than for the hour-long cache.
    for _ in range(200):
        answer = await b.gql(PROTECTED, token=login["token"])
        if "errors" not in answer:
            break
        await asyncio.sleep(0.05)
    assert "errors" not in answer, answer
    assert code(await b.gql(PROTECTED, token=member.token)) == "UNAUTHENTICATED"  # revoked


async def _connected_or_closed(url: str, token: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    return ws


async def _until_closed(ws: Any) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 10)
