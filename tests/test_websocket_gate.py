"""What the gate refuses over a websocket, each protocol answering that operation only:
a malformed ``operationName`` or ``query`` (BAD_REQUEST), and a document of several
operations without a name (OPERATION_NAME_REQUIRED). The connection stays usable and
nothing is logged as a server fault. HTTP refuses the same names the same way."""

from __future__ import annotations

import gc
import json
import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import PeopleFactory
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, Connection, connect

# The legacy protocol runs subscriptions only; this one ends at once (no such message).
STREAM = f'subscription S {{ messageStream(messageId: "{uuid.UUID(int=1)}") {{ __typename }} }}'
TWO_OPERATIONS = "query A { a: __typename } query B { b: __typename }"
TWO_SUBSCRIPTIONS = f"{STREAM} subscription T {{ sessionUpdates {{ __typename }} }}"
BAD_NAMES = [5, True, False, 0, 1.5, ["A"], {"a": "A"}]


def start(conn: Connection, op: str, payload: dict[str, Any]) -> str:
    kind = "subscribe" if conn.protocol == TRANSPORT_WS else "start"
    return json.dumps({"id": op, "type": kind, "payload": payload})


async def answer(conn: Connection, op: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message answering operation ``op``, up to its end (``complete`` or ``error``)."""
    await conn.ws.send(start(conn, op, payload))
    messages = []
    while True:
        message = await conn.recv(wait=5)
        if message.get("id") != op:
            continue
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


def one_error(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The single GraphQL error the operation was answered with."""
    (message,) = messages
    assert message["type"] == "error", messages
    payload = message["payload"]
    (error,) = payload if isinstance(payload, list) else [payload]
    assert isinstance(error, dict)
    return error


async def runs(conn: Connection, op: str) -> None:
    """A well-formed operation still runs on the connection."""
    if conn.protocol == TRANSPORT_WS:
        messages = await answer(conn, op, {"query": "query Q { __typename }"})
        assert messages[0] == {
            "id": op,
            "type": "next",
            "payload": {"data": {"__typename": "Query"}},
        }
        assert messages[-1] == {"id": op, "type": "complete"}
    else:
        messages = await answer(conn, op, {"query": STREAM, "operationName": "S"})
        assert messages[-1] == {"id": op, "type": "complete"}, messages
        assert all(m["type"] in ("data", "complete") for m in messages), messages


def no_server_fault(caplog: pytest.LogCaptureFixture) -> None:
    gc.collect()  # an unretrieved task's exception is logged when it is collected
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not faults, [r.getMessage() for r in faults]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_non_string_operation_name_is_a_bad_request(
    live_url: str, people: PeopleFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    member = await people.member()
    query = "query Q { __typename }" if protocol == TRANSPORT_WS else STREAM
    with caplog.at_level(logging.WARNING):
        async with connect(live_url, member.token, protocol) as conn:
            for i, name in enumerate(BAD_NAMES):
                payload = {"query": query, "operationName": name}
                error = one_error(await answer(conn, f"bad-{i}", payload))
                assert error["extensions"] == {"code": "BAD_REQUEST"}, (name, error)
                assert "operationName" in error["message"]
            await runs(conn, "good")
    no_server_fault(caplog)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_an_empty_operation_name_means_no_name(
    live_url: str, people: PeopleFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    member = await people.member()
    several = TWO_OPERATIONS if protocol == TRANSPORT_WS else TWO_SUBSCRIPTIONS
    with caplog.at_level(logging.WARNING):
        async with connect(live_url, member.token, protocol) as conn:
            # One operation: it runs, as it would without a name.
            if protocol == TRANSPORT_WS:
                messages = await answer(conn, "1", {"query": "{ __typename }", "operationName": ""})
                assert messages[0]["payload"] == {"data": {"__typename": "Query"}}
            else:
                messages = await answer(conn, "1", {"query": STREAM, "operationName": ""})
                assert messages[-1] == {"id": "1", "type": "complete"}, messages
            # Several: "" picks none of them.
            error = one_error(await answer(conn, "2", {"query": several, "operationName": ""}))
            assert error["extensions"] == {"code": "OPERATION_NAME_REQUIRED"}
            await runs(conn, "3")
    no_server_fault(caplog)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_several_operations_need_a_name(
    live_url: str, people: PeopleFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    member = await people.member()
    several = TWO_OPERATIONS if protocol == TRANSPORT_WS else TWO_SUBSCRIPTIONS
    with caplog.at_level(logging.WARNING):
        async with connect(live_url, member.token, protocol) as conn:
            for op, payload in (
                ("1", {"query": several}),
                ("2", {"query": several, "operationName": None}),
            ):
                error = one_error(await answer(conn, op, payload))
                assert error["extensions"] == {"code": "OPERATION_NAME_REQUIRED"}
                assert "operation name" in error["message"]
            if protocol == TRANSPORT_WS:  # naming one runs exactly that one
                messages = await answer(conn, "3", {"query": several, "operationName": "B"})
                assert messages[0]["payload"] == {"data": {"b": "Query"}}
            await runs(conn, "4")
    no_server_fault(caplog)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_non_string_query_is_a_bad_request(
    live_url: str, people: PeopleFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    member = await people.member()
    with caplog.at_level(logging.WARNING):
        async with connect(live_url, member.token, protocol) as conn:
            for i, query in enumerate([5, True, ["{ __typename }"], {"q": "{ __typename }"}]):
                error = one_error(await answer(conn, f"bad-{i}", {"query": query}))
                assert error["extensions"] == {"code": "BAD_REQUEST"}, (query, error)
            await runs(conn, "good")
    no_server_fault(caplog)


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_http_refuses_a_non_string_operation_name(
    client: httpx.AsyncClient, people: PeopleFactory, name: object
) -> None:
    member = await people.member()
    body = {"query": "query Q { __typename }", "operationName": name}
    headers = {"authorization": f"Bearer {member.token}"}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "operationName" in error["message"]


async def test_http_takes_an_empty_operation_name_as_none(client: httpx.AsyncClient) -> None:
    body = {"query": TWO_OPERATIONS, "operationName": ""}
    response = await client.post("/graphql", json=body)
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "OPERATION_NAME_REQUIRED"}
    response = await client.post("/graphql", json={"query": "{ __typename }", "operationName": ""})
    assert response.json() == {"data": {"__typename": "Query"}}
