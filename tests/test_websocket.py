"""GraphQL over real websockets: the token travels in the connection_init payload."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from ezhr_graphql.container import Container
from ezhr_graphql.models import Role
from tests.conftest import GraphQLClient, PeopleFactory
from tests.factories import make_agent, make_sessions

VIEWER = "{ viewer { email } }"


async def _recv(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
    return message


async def test_graphql_transport_ws_authenticates_from_connection_init(
    live_url: str, people: PeopleFactory
) -> None:
    member = await people.member()
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}}))
        assert await _recv(ws) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"viewer": {"email": member.email}}},
        }
        assert await _recv(ws) == {"id": "1", "type": "complete"}


async def test_authorization_header_style_payload_is_accepted(
    live_url: str, people: PeopleFactory
) -> None:
    member = await people.member()
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": f"Bearer {member.token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": VIEWER}}))
        assert (await _recv(ws))["payload"]["data"]["viewer"]["email"] == member.email


async def test_a_bad_token_is_refused_with_the_protocols_close_code(live_url: str) -> None:
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": "forged"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await _recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_anonymous_connections_get_unauthenticated_errors(live_url: str) -> None:
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        query = "{ agents { __typename } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = await _recv(ws)
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_legacy_graphql_ws_protocol_authenticates_and_explains_what_it_carries(
    live_url: str, people: PeopleFactory
) -> None:
    member = await people.member()
    async with websockets.connect(live_url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": VIEWER}}))
        message = await _recv(ws)
        while message["type"] == "ka":
            message = await _recv(ws)
        assert message["type"] == "error"
        assert message["payload"]["extensions"] == {"code": "BAD_REQUEST"}
        assert "only accepts subscriptions" in message["payload"]["message"]

    async with websockets.connect(live_url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": "forged"}}))
        message = await _recv(ws)
        assert message["type"] == "connection_error"
        assert message["payload"]["code"] == "UNAUTHENTICATED"


async def test_each_operation_on_a_connection_sees_current_data(
    live_url: str, people: PeopleFactory, container: Container, gql: GraphQLClient
) -> None:
    admin = await people.admin()
    member = await people.member()
    agent = await make_agent(container, admin, name="Before")
    (session,) = await make_sessions(container, member, agent.id, 1)
    query = "query ($id: ID!) { chatSession(id: $id) { ... on ChatSession { agent { name } } } }"
    payload = {"query": query, "variables": {"id": str(session.id)}}
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = await _recv(ws)
        assert first["payload"]["data"]["chatSession"]["agent"] == {"name": "Before"}
        await _recv(ws)  # complete

        renamed = await gql.data(
            'mutation ($id: ID!) { updateAgent(id: $id, input: {name: "After"}) { __typename } }',
            {"id": str(agent.id)},
            token=admin.token,
        )
        assert renamed["updateAgent"]["__typename"] == "Agent"

        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
        second = await _recv(ws)
        assert second["payload"]["data"]["chatSession"]["agent"] == {"name": "After"}


async def test_a_deleted_users_open_socket_is_closed_at_once(
    live_url: str, people: PeopleFactory, gql: GraphQLClient
) -> None:
    admin = await people.admin()
    member = await people.member()
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": member.token}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}}))
        assert (await _recv(ws))["payload"]["data"]["viewer"]["email"] == member.email
        await _recv(ws)  # complete

        deleted = await gql.data(
            "mutation ($id: ID!) { deleteUser(userId: $id) { __typename } }",
            {"id": str(member.id)},
            token=admin.token,
        )
        assert deleted["deleteUser"]["__typename"] == "Deleted"

        # Closed without waiting for its next operation, as an expired token's is.
        with pytest.raises(ConnectionClosed) as closed:
            await _until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert closed.value.rcvd.reason == "Invalid or expired token"


async def test_a_connection_closes_when_its_token_expires(
    live_url: str, people: PeopleFactory, container: Container
) -> None:
    member = await people.member()
    soon = datetime.now(UTC) - timedelta(seconds=container.settings.auth.token_ttl_seconds - 2)
    token, expires = container.tokens.issue(member.id, Role.MEMBER, now=soon)
    async with websockets.connect(live_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        with pytest.raises(ConnectionClosed) as closed:
            await _until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert datetime.now(UTC) >= expires - timedelta(seconds=1)


async def _until_closed(ws: Any) -> None:
    while True:  # pings, until the server closes the connection
        await asyncio.wait_for(ws.recv(), 10)
