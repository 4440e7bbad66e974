"""Guards that run before execution: depth and alias limits; unexpected errors masked."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry

from ezhr_graphql.api.schema import Schema, extensions
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.settings import GraphQLSettings
from tests.conftest import make_settings
from tests.databases import DbUnderTest


@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> Node:
        return Node()

    @strawberry.field
    def name(self) -> str:
        return "n"


@strawberry.type
class TreeQuery:
    @strawberry.field
    def root(self) -> Node:
        return Node()


async def test_depth_and_alias_limits_reject_abusive_documents() -> None:
    schema = Schema(
        query=TreeQuery, extensions=extensions(GraphQLSettings(max_depth=4, max_aliases=3))
    )
    ok = await schema.execute("{ root { child { child { name } } } }")
    assert ok.errors is None
    deep = await schema.execute("{ root { child { child { child { child { name } } } } } }")
    assert deep.errors
    assert "exceeds maximum operation depth" in deep.errors[0].message
    aliases = await schema.execute(
        "{ a: root { name } b: root { name } c: root { name } d: root { name } }"
    )
    assert aliases.errors
    assert "aliases" in aliases.errors[0].message
    introspection = await schema.execute(
        "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    )
    assert introspection.errors is None


async def test_unexpected_exceptions_are_masked_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> str:
            raise RuntimeError("connection string postgres://secret@db leaked")

    schema = Schema(query=Query, extensions=extensions(GraphQLSettings()))
    with caplog.at_level(logging.ERROR, logger="ezhr_graphql.api"):
        result = await schema.execute("query Boom { broken }")
    assert result.errors is not None
    error = result.errors[0]
    assert error.message == "Unexpected error."
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in str(error.formatted)
    assert "operation Boom" in caplog.text
    assert "RuntimeError" in caplog.text


async def test_oversized_json_bodies_are_413_before_they_are_read(
    client: httpx.AsyncClient, container: Container
) -> None:
    limit = container.settings.graphql.max_body_bytes
    padding = "x" * limit
    declared = await client.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }", "extensions": {"pad": padding}}),
        headers={"content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert "errors" in declared.json()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
        yield b'{"query": "{ __typename }", "extensions": {"pad": "'
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096
        yield b'"}}'

    streamed = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    small = await client.post("/graphql", json={"query": "{ __typename }"})
    assert small.json() == {"data": {"__typename": "Query"}}


async def test_production_hides_the_schema_and_cors_admits_listed_origins(
    database: DbUnderTest,
) -> None:
    settings = make_settings(
        database,
        env="production",
        seed={"admin_password": "not-used-here-1"},
        server={"cors_origins": ["https://hr.example.com"]},
    )
    assert not settings.introspection_enabled
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            hidden = await http.post(
                "/graphql", json={"query": "{ __schema { queryType { name } } }"}
            )
            assert hidden.status_code == 200
            assert hidden.json()["errors"][0]["message"].startswith("GraphQL introspection")
            typename = await http.post("/graphql", json={"query": "{ __typename }"})
            assert typename.json() == {"data": {"__typename": "Query"}}
            preflight = await http.options(
                "/graphql",
                headers={
                    "origin": "https://hr.example.com",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 200
            allowed = preflight.headers["access-control-allow-origin"]
            assert allowed == "https://hr.example.com"
            stranger = await http.options(
                "/graphql",
                headers={
                    "origin": "https://evil.example.com",
                    "access-control-request-method": "POST",
                },
            )
            assert "access-control-allow-origin" not in stranger.headers
    finally:
        await app.state.container.close()


async def test_introspection_is_on_outside_production(client: httpx.AsyncClient) -> None:
    shown = await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
    assert shown.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert (
        "access-control-allow-origin"
        not in (
            await client.options("/graphql", headers={"origin": "https://hr.example.com"})
        ).headers
    )
