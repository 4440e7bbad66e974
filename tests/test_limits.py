"""Guards that run before execution: token, depth and alias limits, each with its code;
one operation per request; unexpected errors masked."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from graphql import get_introspection_query

from ezhr_graphql.api.graphql.schema import Schema, extensions
from ezhr_graphql.api.guards.limits import document_parser
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.settings import GraphQLSettings
from tests.conftest import ROOT, make_settings
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
    assert deep.errors[0].extensions == {"code": "QUERY_TOO_DEEP"}
    aliases = await schema.execute(
        "{ a: root { name } b: root { name } c: root { name } d: root { name } }"
    )
    assert aliases.errors
    assert "aliases" in aliases.errors[0].message
    assert aliases.errors[0].extensions == {"code": "TOO_MANY_ALIASES"}
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
    assert declared.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}

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


async def test_documents_over_the_token_limit_are_refused_where_the_limit_is_reached() -> None:
    schema = Schema(
        query=TreeQuery, extensions=extensions(GraphQLSettings(max_tokens=50, max_aliases=100))
    )
    # given 50 tokens: "{", 48 fields, "}"
    at_limit = await schema.execute("{" + " __typename" * 48 + " }")
    assert at_limit.errors is None
    # when there are more, parsing stops at the 51st (the 50th field, column 542)
    over = await schema.execute("{" + " __typename" * 60 + " }")
    assert over.errors is not None
    assert over.errors[0].formatted == {
        "message": "Document contains more than 50 tokens. Parsing aborted.",
        "locations": [{"line": 1, "column": 542}],
        "extensions": {"code": "QUERY_TOO_LARGE"},
    }
    # and comments, which the lexer keeps, are limited as well
    padded = await schema.execute("# padding\n" * 60 + "{ __typename }")
    assert padded.errors is not None
    assert padded.errors[0].extensions == {"code": "QUERY_TOO_LARGE"}
    assert "comments" in padded.errors[0].message
    # while a plain syntax error stays one, without a limit's code
    typo = await schema.execute("{ root {")
    assert typo.errors is not None
    assert typo.errors[0].message.startswith("Syntax Error")
    assert not typo.errors[0].extensions


async def test_the_token_limit_answers_http_with_a_request_error(
    client: httpx.AsyncClient, container: Container
) -> None:
    limit = container.settings.graphql.max_tokens
    document = "{" + " __typename" * limit + " }"
    response = await client.post(
        "/graphql",
        json={"query": document},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_LARGE"}
    assert f"more than {limit} tokens" in body["errors"][0]["message"]


async def test_documents_over_the_length_limit_are_refused_before_they_are_parsed(
    client: httpx.AsyncClient, container: Container
) -> None:
    settings = container.settings.graphql
    limit = settings.max_query_length
    # given a document of a few tokens, padded past the length limit by a comment
    padding = "#" + "x" * limit + "\n"
    cached = document_parser(settings).args[0]  # the lru_cache behind the app's parser
    before = cached.cache_info()
    # when it is sent
    response = await client.post(
        "/graphql",
        json={"query": padding + "{ __typename }"},
        headers={"accept": "application/graphql-response+json"},
    )
    # then it is refused with the limit's code, and was neither parsed nor cached
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": f"Document contains more than {limit} characters.",
                "extensions": {"code": "QUERY_TOO_LARGE"},
            }
        ]
    }
    assert cached.cache_info() == before
    # over websockets and in any schema alike, while a document at the limit runs
    schema = Schema(query=TreeQuery, extensions=extensions(GraphQLSettings(max_query_length=1024)))
    over = await schema.execute("#" + "x" * 1010 + "\n{ __typename }")
    assert over.errors is not None
    assert over.errors[0].extensions == {"code": "QUERY_TOO_LARGE"}
    at_limit = await schema.execute("#" + "x" * 1008 + "\n{ __typename }")
    assert at_limit.errors is None


async def test_graphiql_introspection_and_the_documented_operations_fit_the_default_limits(
    client: httpx.AsyncClient,
) -> None:
    # GraphiQL asks for descriptions, deprecations and the rest
    introspection = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    response = await client.post("/graphql", json={"query": introspection})
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert len(introspection) < GraphQLSettings().max_query_length
    # and a client may paste the whole documented file, naming one operation
    document = (ROOT / "docs" / "operations.graphql").read_text()
    assert len(document) < GraphQLSettings().max_query_length
    response = await client.post("/graphql", json={"query": document, "operationName": "Agents"})
    codes = [e.get("extensions", {}).get("code") for e in response.json()["errors"]]
    assert codes == ["UNAUTHENTICATED"]  # it ran: only the missing token stopped it


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_batch_of_requests_is_refused_with_its_own_code(
    client: httpx.AsyncClient, accept: str
) -> None:
    # given a JSON array of two requests, as batching clients send
    batch = [{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    # when it is posted
    response = await client.post("/graphql", json=batch, headers={"accept": accept})
    # then nothing runs and the error says batching is not supported
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BATCHING_NOT_SUPPORTED"}
    assert "Batched requests" in error["message"]
    assert "data" not in response.json()


async def test_several_operations_need_an_operation_name_over_post_and_get(
    client: httpx.AsyncClient,
) -> None:
    two = "query A { a: __typename } query B { b: __typename }"
    posted = await client.post("/graphql", json={"query": two})
    fetched = await client.get("/graphql", params={"query": two})
    for response in (posted, fetched):
        assert response.status_code == 200  # application/json: request errors stay 200
        assert response.json() == {
            "errors": [
                {
                    "message": "Must provide operation name if query contains multiple operations.",
                    "extensions": {"code": "OPERATION_NAME_REQUIRED"},
                }
            ]
        }
    strict = await client.post(
        "/graphql",
        json={"query": two},
        headers={"accept": "application/graphql-response+json"},
    )
    assert strict.status_code == 400
    unknown = await client.post("/graphql", json={"query": two, "operationName": "C"})
    assert unknown.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_malformed_requests_carry_the_code_of_their_status(
    client: httpx.AsyncClient,
) -> None:
    not_json = await client.post(
        "/graphql", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    text = await client.post("/graphql", content=b"{}", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert text.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    mutation = await client.get("/graphql", params={"query": "mutation { __typename }"})
    assert mutation.status_code == 405
    assert mutation.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    refused = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"}
    )
    assert refused.status_code == 406
    assert refused.json()["errors"][0]["extensions"] == {"code": "NOT_ACCEPTABLE"}
