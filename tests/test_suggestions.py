"""With introspection off, errors do not reveal the schema by suggesting names
("Did you mean 'viewer'?"); with it on, developers still get the suggestions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets
from starlette.applications import Starlette

from ezhr_graphql.app import create_app
from tests.conftest import make_settings, serving
from tests.databases import DbUnderTest

# Each misspelling next to the name graphql-core would suggest for it.
MISSPELT: list[tuple[str, dict[str, Any], str]] = [
    ("{ viewr { email } }", {}, "viewer"),  # field
    ("{ viewer { emial } }", {}, "email"),  # field of an object
    ("query ($r: Rol!) { viewer { email } }", {}, "Role"),  # type
    ("{ agents(frist: 1) { __typename } }", {}, "first"),  # argument
    (  # enum value, written in the document
        'mutation { setUserRole(userId: "x", role: ADMN) { __typename } }',
        {},
        "ADMIN",
    ),
    (  # enum value, sent as a variable
        'mutation ($r: Role!) { setUserRole(userId: "x", role: $r) { __typename } }',
        {"r": "ADMN"},
        "ADMIN",
    ),
    (  # input field, sent as a variable
        "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
        {"i": {"email": "a@example.com", "password": "long enough pw", "dispalyName": "A"}},
        "displayName",
    ),
    (  # input field, written in the document
        'mutation { register(input: {email: "a@example.com", emial: "a", password: "pw"}) '
        "{ __typename } }",
        {},
        "email",
    ),
]


@asynccontextmanager
async def app_with(database: DbUnderTest, introspection: bool) -> AsyncIterator[Starlette]:
    app = create_app(make_settings(database, graphql={"introspection": introspection}))
    try:
        yield app
    finally:
        await app.state.container.close()


async def errors_of(app: Starlette, query: str, variables: dict[str, Any]) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code in (200, 400), response.text
    messages = [error["message"] for error in response.json()["errors"]]
    assert messages, response.text
    return messages


async def test_no_suggestions_without_introspection(database: DbUnderTest) -> None:
    async with app_with(database, introspection=False) as app:
        for query, variables, suggested in MISSPELT:
            messages = await errors_of(app, query, variables)
            text = " ".join(messages)
            assert "Did you mean" not in text, (query, messages)
            assert f"'{suggested}'" not in text, (query, messages)


async def test_suggestions_with_introspection(database: DbUnderTest) -> None:
    async with app_with(database, introspection=True) as app:
        for query, variables, suggested in MISSPELT:
            messages = await errors_of(app, query, variables)
            assert any("Did you mean" in m and f"'{suggested}'" in m for m in messages), (
                query,
                messages,
            )


async def test_no_suggestions_over_a_websocket_without_introspection(
    database: DbUnderTest,
) -> None:
    subscription = "subscription ($d: ID!) { ingestionProgres(documentId: $d) { __typename } }"
    async with (
        app_with(database, introspection=False) as app,
        serving(app) as url,
        websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": subscription, "variables": {"d": "x"}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = json.loads(await ws.recv())
    assert message["type"] == "error", message
    text = json.dumps(message)
    assert "ingestionProgres" in text
    assert "Did you mean" not in text
