"""Persisted queries: documents named by their SHA-256, registered by clients (auto),
or fixed by an allow-list, over HTTP GET and POST and over websockets."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from starlette.applications import Starlette

from ezhr_graphql.api.guards.limits import document_parser
from ezhr_graphql.api.guards.persisted import (
    MAX_DOCUMENT_BYTES,
    MemoryStore,
    PersistedQueries,
    PersistedQueryError,
    RedisStore,
    load_manifest,
    manifest_of,
    sha256_hex,
)
from ezhr_graphql.app import create_app
from ezhr_graphql.cli import main
from ezhr_graphql.container import Container
from ezhr_graphql.settings import GraphQLSettings
from tests.conftest import ROOT, PeopleFactory, Person, make_settings, serving
from tests.databases import DbUnderTest
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, connect

TYPENAME = "query Typename { __typename }"
LISTED = "query Typename {\n  __typename\n}"  # as `manifest_of` prints it
STRICT = {"accept": "application/graphql-response+json"}


def persisted(document: str | None = None, *, digest: str | None = None) -> dict[str, Any]:
    digest = digest or sha256_hex(document or "")
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


@asynccontextmanager
async def app_with(database: DbUnderTest, **settings: Any) -> AsyncIterator[Starlette]:
    app = create_app(make_settings(database, **settings))
    try:
        yield app
    finally:
        await app.state.container.close()


@asynccontextmanager
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def bearer(person: Person) -> dict[str, str]:
    return {"authorization": f"Bearer {person.token}"}


async def test_a_client_registers_a_document_then_sends_its_hash_alone(
    client: httpx.AsyncClient, people: PeopleFactory
) -> None:
    member = await people.member()
    document = "query Registered { __typename }"
    # given a hash the server has never seen
    unknown = await client.post("/graphql", json={"extensions": persisted(document)})
    # then it asks for the document, as Apollo clients expect
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    strict = await client.post("/graphql", json={"extensions": persisted(document)}, headers=STRICT)
    assert strict.status_code == 400
    # when an anonymous client sends the document with its hash, it runs, unkept
    anonymous = await client.post(
        "/graphql", json={"query": document, "extensions": persisted(document)}
    )
    assert anonymous.json() == {"data": {"__typename": "Query"}}
    alone = await client.post("/graphql", json={"extensions": persisted(document)})
    assert codes(alone) == ["PERSISTED_QUERY_NOT_FOUND"]
    # when a signed-in client sends it, it runs and is registered
    registered = await client.post(
        "/graphql",
        json={"query": document, "extensions": persisted(document)},
        headers=bearer(member),
    )
    assert registered.json() == {"data": {"__typename": "Query"}}
    # so the hash alone runs it, for anyone, over POST and GET
    posted = await client.post("/graphql", json={"extensions": persisted(document)})
    assert posted.json() == {"data": {"__typename": "Query"}}
    fetched = await client.get("/graphql", params={"extensions": json.dumps(persisted(document))})
    assert fetched.json() == {"data": {"__typename": "Query"}}


async def test_a_hash_that_does_not_match_its_document_is_refused(
    client: httpx.AsyncClient,
) -> None:
    mismatch = await client.post(
        "/graphql", json={"query": TYPENAME, "extensions": persisted("{ other }")}
    )
    assert codes(mismatch) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # and nothing was registered under that hash
    alone = await client.post("/graphql", json={"extensions": persisted("{ other }")})
    assert codes(alone) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": "yes"},
    ],
)
async def test_malformed_persisted_queries_are_refused(
    client: httpx.AsyncClient, extension: dict[str, Any]
) -> None:
    response = await client.post("/graphql", json={"extensions": extension})
    assert codes(response) == ["PERSISTED_QUERY_INVALID"]


async def test_documents_that_do_not_parse_are_not_registered(
    client: httpx.AsyncClient, container: Container, people: PeopleFactory
) -> None:
    signed_in = bearer(await people.member())
    broken = "{ __typename"
    response = await client.post(
        "/graphql", json={"query": broken, "extensions": persisted(broken)}, headers=signed_in
    )
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")
    again = await client.post("/graphql", json={"extensions": persisted(broken)})
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]
    # nor do documents over the token limit
    huge = "{" + " __typename" * (container.settings.graphql.max_tokens + 1) + " }"
    response = await client.post(
        "/graphql", json={"query": huge, "extensions": persisted(huge)}, headers=signed_in
    )
    assert codes(response) == ["QUERY_TOO_LARGE"]
    again = await client.post("/graphql", json={"extensions": persisted(huge)})
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]
    # and long documents run but are not kept: counted in UTF-8 bytes, not characters
    long = "# " + "é" * (MAX_DOCUMENT_BYTES // 2) + "\n{ __typename }"
    assert len(long) < MAX_DOCUMENT_BYTES < len(long.encode())
    response = await client.post(
        "/graphql", json={"query": long, "extensions": persisted(long)}, headers=signed_in
    )
    assert response.json() == {"data": {"__typename": "Query"}}
    again = await client.post("/graphql", json={"extensions": persisted(long)})
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_without_persisted_queries_a_hash_alone_is_not_supported(
    database: DbUnderTest,
) -> None:
    async with app_with(database, graphql={"persisted_queries": "off"}) as app, http(app) as client:
        alone = await client.post("/graphql", json={"extensions": persisted(TYPENAME)})
        assert alone.json()["errors"] == [
            {
                "message": "PersistedQueryNotSupported",
                "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
            }
        ]
        both = await client.post(
            "/graphql", json={"query": TYPENAME, "extensions": persisted(TYPENAME)}
        )
        assert both.json() == {"data": {"__typename": "Query"}}


def test_the_manifest_of_the_documented_operations(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    assert main(["persisted", "export", "-o", str(target)]) == 0
    manifest = load_manifest(target)
    assert manifest == manifest_of((ROOT / "docs" / "operations.graphql").read_text())
    assert len(manifest) == 16
    for digest, document in manifest.items():
        assert sha256_hex(document) == digest
    # each operation travels with the fragments it uses, and only those
    shared = manifest_of(
        "query A { ...F } query B { __typename } fragment F on Query { ...G } "
        "fragment G on Query { __typename }"
    )
    documents = sorted(shared.values())
    assert documents[0].startswith("query A")
    assert "fragment F" in documents[0]
    assert "fragment G" in documents[0]
    assert documents[1] == "query B {\n  __typename\n}"


def test_bad_manifests_are_refused_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    for content, problem in [
        ("not json", "cannot read"),
        ("[]", "expected an object"),
        (json.dumps({"0" * 64: TYPENAME}), "is not the SHA-256"),
        (json.dumps({sha256_hex(TYPENAME): 1}), "expected an object"),
    ]:
        path.write_text(content)
        with pytest.raises(ValueError, match=problem):
            load_manifest(path)
    # Apollo's manifest format is read as well
    apollo = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": sha256_hex(TYPENAME), "name": "Typename", "type": "query", "body": TYPENAME},
    ]}  # fmt: skip
    path.write_text(json.dumps(apollo))
    assert load_manifest(path) == {sha256_hex(TYPENAME): TYPENAME}
    with pytest.raises(ValueError, match="persisted_queries_file"):
        GraphQLSettings(persisted_queries="allowlist")


@pytest.fixture
def allowlist(tmp_path: Path) -> Path:
    path = tmp_path / "allowlist.json"
    manifest = manifest_of((ROOT / "docs" / "operations.graphql").read_text() + TYPENAME)
    path.write_text(json.dumps(manifest))
    return path


async def test_an_allow_list_runs_its_documents_only(
    database: DbUnderTest, container: Container, people: PeopleFactory, allowlist: Path
) -> None:
    member = await people.member()
    manifest = load_manifest(allowlist)
    agents = next(d for d in manifest.values() if d.startswith("query Agents"))
    settings = {"persisted_queries": "allowlist", "persisted_queries_file": str(allowlist)}
    async with app_with(database, graphql=settings) as app, http(app) as client:
        # a listed hash runs its document
        listed = await client.post(
            "/graphql",
            json={"extensions": persisted(agents)},
            headers={"authorization": f"Bearer {member.token}"},
        )
        assert listed.json() == {"data": {"agents": {"edges": []}}}
        # any text is refused before it is parsed, even when it would not parse
        for text in (TYPENAME, "{ not graphql"):
            refused = await client.post("/graphql", json={"query": text}, headers=STRICT)
            assert refused.status_code == 400
            assert codes(refused) == ["PERSISTED_QUERY_REQUIRED"]
        fetched = await client.get("/graphql", params={"query": TYPENAME})
        assert codes(fetched) == ["PERSISTED_QUERY_REQUIRED"]
        # an unknown hash is not found, and cannot be registered
        other = "query Other { __typename }"
        unknown = await client.post("/graphql", json={"extensions": persisted(other)})
        assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
        offered = await client.post(
            "/graphql", json={"query": other, "extensions": persisted(other)}
        )
        assert codes(offered) == ["PERSISTED_QUERY_NOT_ALLOWED"]
        # a listed document sent along with its hash runs
        both = await client.post(
            "/graphql", json={"query": LISTED, "extensions": persisted(LISTED)}
        )
        assert both.json() == {"data": {"__typename": "Query"}}


async def test_websockets_run_persisted_queries_over_both_protocols(
    live_url: str, client: httpx.AsyncClient, people: PeopleFactory
) -> None:
    member = await people.member()
    document = "query OverWs { __typename }"
    await client.post(
        "/graphql",
        json={"query": document, "extensions": persisted(document)},
        headers=bearer(member),
    )
    async with connect(live_url, None, TRANSPORT_WS) as conn:
        payload = {"extensions": persisted(document)}
        await conn.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        assert await conn.recv() == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"__typename": "Query"}},
        }
        assert await conn.recv() == {"id": "1", "type": "complete"}
        payload = {"extensions": persisted("{ unknown }")}
        await conn.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
        assert await conn.recv() == {
            "id": "2",
            "type": "error",
            "payload": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ],
        }
    async with connect(live_url, None, LEGACY_WS) as conn:
        # the legacy protocol carries subscriptions only: the error shows the hash was
        # resolved to the registered query
        payload = {"extensions": persisted(document)}
        await conn.ws.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
        message = await conn.recv()
        assert message["type"] == "error"
        assert message["payload"]["extensions"] == {"code": "BAD_REQUEST"}
        payload = {"extensions": persisted("{ unknown }")}
        await conn.ws.send(json.dumps({"id": "2", "type": "start", "payload": payload}))
        assert await conn.recv() == {
            "id": "2",
            "type": "error",
            "payload": {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            },
        }


async def test_websockets_refuse_plain_text_under_an_allow_list(
    database: DbUnderTest, allowlist: Path
) -> None:
    settings = {"persisted_queries": "allowlist", "persisted_queries_file": str(allowlist)}
    async with (
        app_with(database, graphql=settings) as app,
        serving(app) as url,
        connect(url, None, TRANSPORT_WS) as conn,
    ):
        payload = {"query": TYPENAME}
        await conn.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = await conn.recv()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"] == {"code": "PERSISTED_QUERY_REQUIRED"}
        payload = {"extensions": persisted(LISTED)}
        await conn.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
        assert (await conn.recv())["payload"] == {"data": {"__typename": "Query"}}


async def test_with_redis_every_worker_serves_what_another_registered(
    database: DbUnderTest, people: PeopleFactory, redis_url: str
) -> None:
    member = await people.member()
    document = f"query Shared{uuid.uuid4().hex} {{ __typename }}"  # new to Redis
    async with (
        app_with(database, redis_url=redis_url) as first,
        app_with(database, redis_url=redis_url) as second,
        http(first) as one,
        http(second) as other,
    ):
        # different processes: their stores are not the same object
        await one.post(
            "/graphql",
            json={"query": document, "extensions": persisted(document)},
            headers=bearer(member),
        )
        served = await other.post("/graphql", json={"extensions": persisted(document)})
        assert served.json() == {"data": {"__typename": "Query"}}


async def test_redis_keeps_documents_for_their_time_to_live_and_failures_only_miss(
    caplog: pytest.LogCaptureFixture, redis_url: str
) -> None:
    client = redis.from_url(redis_url)
    try:
        store = RedisStore(client, size=10, ttl=120, prefix="ezhr:test:apq:")
        digest = sha256_hex(TYPENAME)
        await store.put(digest, TYPENAME)
        assert 0 < await client.ttl(f"ezhr:test:apq:{digest}") <= 120
        # reads do not extend a document's time: it expires after its registration
        await client.expire(f"ezhr:test:apq:{digest}", 30)
        fresh = RedisStore(client, size=10, ttl=120, prefix="ezhr:test:apq:")
        assert await fresh.get(digest) == TYPENAME
        assert 0 < await client.ttl(f"ezhr:test:apq:{digest}") <= 30
        await client.delete(f"ezhr:test:apq:{digest}")
        # past its budget of new documents, a process keeps them to itself
        frugal = RedisStore(client, size=10, ttl=120, prefix="ezhr:test:apq:", writes_per_minute=1)
        documents = [f"query Q{uuid.uuid4().hex} {{ __typename }}" for _ in range(2)]
        for document in documents:
            await frugal.put(sha256_hex(document), document)
        keys = [f"ezhr:test:apq:{sha256_hex(d)}" for d in documents]
        assert [await client.exists(key) for key in keys] == [1, 0]
        assert await frugal.get(sha256_hex(documents[1])) == documents[1]
        await client.delete(*keys)
    finally:
        await client.aclose()
    down = redis.from_url("redis://127.0.0.1:1/0")
    try:
        store = RedisStore(down, size=10, ttl=60)
        parse = document_parser(GraphQLSettings(max_tokens=100, parser_cache_size=0))
        queries = PersistedQueries("auto", parse, store)
        with caplog.at_level(logging.WARNING, logger="ezhr_graphql.api.guards.persisted"):
            with pytest.raises(PersistedQueryError) as missing:
                await queries.resolve(None, persisted(TYPENAME))
            assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"
            ran = await queries.resolve(TYPENAME, persisted(TYPENAME), signed_in=True)
            assert ran == TYPENAME
        assert "persisted query store unavailable" in caplog.text
    finally:
        await down.aclose()


async def test_the_memory_store_keeps_the_most_recently_used() -> None:
    store = MemoryStore(size=2)
    await store.put("a", "A")
    await store.put("b", "B")
    assert await store.get("a") == "A"  # now the most recent
    await store.put("c", "C")
    assert await store.get("b") is None
    assert await store.get("a") == "A"
    assert await store.get("c") == "C"


async def test_only_signed_in_callers_register_documents() -> None:
    queries = PersistedQueries("auto", document_parser(GraphQLSettings()), MemoryStore(size=10))
    # an anonymous caller's document runs, and is not kept
    assert await queries.resolve(TYPENAME, persisted(TYPENAME)) == TYPENAME
    with pytest.raises(PersistedQueryError) as missing:
        await queries.resolve(None, persisted(TYPENAME))
    assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"
    # a signed-in caller's is kept, and served to anyone
    assert await queries.resolve(TYPENAME, persisted(TYPENAME), signed_in=True) == TYPENAME
    assert await queries.resolve(None, persisted(TYPENAME)) == TYPENAME


async def test_websockets_register_documents_for_signed_in_connections_only(
    live_url: str, people: PeopleFactory
) -> None:
    member = await people.member()
    for token, document in (
        (None, "query Anon { __typename }"),
        (member.token, "query Mine { __typename }"),
    ):
        async with connect(live_url, token, TRANSPORT_WS) as conn:
            payload = {"query": document, "extensions": persisted(document)}
            await conn.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            assert (await conn.recv())["payload"] == {"data": {"__typename": "Query"}}
            assert await conn.recv() == {"id": "1", "type": "complete"}
            payload = {"extensions": persisted(document)}
            await conn.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
            reply = await conn.recv()
            if token is None:
                assert reply["type"] == "error"
                assert reply["payload"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
            else:
                assert reply["payload"] == {"data": {"__typename": "Query"}}


async def test_the_memory_store_forgets_documents_after_their_time_to_live() -> None:
    store = MemoryStore(size=2, ttl=0.2)
    await store.put("a", "A")
    await asyncio.sleep(0.1)
    assert await store.get("a") == "A"
    await asyncio.sleep(0.15)
    # gone 0.2 s after it was put: reading it did not extend its time
    assert await store.get("a") is None
