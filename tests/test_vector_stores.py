"""The vector store contract, on the embedded store and on a real pgvector; then the
whole knowledge path (upload, index, grounded answer) on a server using pgvector."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from ezhr_graphql import migrations
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.models import EmbeddingModel
from ezhr_graphql.services.ingestion import embedding_spec
from ezhr_graphql.settings import Settings
from ezhr_graphql.vectors import PgVectorStore, SearchScope, TableVectorStore, VectorRows
from ezhr_graphql.vectors.base import Vectors
from ezhr_graphql.vectors.pgvector import table_name
from tests.conftest import GraphQLClient, PeopleFactory, make_settings
from tests.databases import DbUnderTest
from tests.factories import make_agent, make_sessions
from tests.knowledge import HANDBOOK, make_collection, upload, wait_indexed
from tests.test_replies import SEND

DIMS = 16


def unit(rng: np.random.Generator, n: int) -> Vectors:
    rows = rng.standard_normal((n, DIMS)).astype(np.float32)
    result: Vectors = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return result


async def test_store_contract(store: TableVectorStore | PgVectorStore) -> None:
    rng = np.random.default_rng(7)
    model = uuid.uuid4()
    small, big = uuid.uuid4(), uuid.uuid4()
    docs = [uuid.uuid4() for _ in range(3)]
    # A small collection beside a big one: filtered searches must still find k.
    vectors = {d: unit(rng, 40 if i < 2 else 2000) for i, d in enumerate(docs)}
    chunk_ids = {d: [uuid.uuid4() for _ in range(len(v))] for d, v in vectors.items()}
    for i, d in enumerate(docs):
        await store.add(model, VectorRows(d, small if i < 2 else big, chunk_ids[d], vectors[d]))
    assert await store.count(model, small) == 80
    assert await store.count(model, big) == 2000

    target = vectors[docs[1]][5]
    scope = SearchScope(model, DIMS, {small: 1})
    hits = await store.search(scope, target, 5)
    assert len(hits) == 5
    assert hits[0].chunk_id == chunk_ids[docs[1]][5]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(h.document_id in docs[:2] for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    exact = np.concatenate([vectors[docs[0]], vectors[docs[1]]]) @ target
    assert hits[4].score == pytest.approx(float(np.sort(exact)[-5]), abs=1e-4)

    excluded = await store.search(SearchScope(model, DIMS, {small: 1}, {docs[1]}), target, 5)
    assert len(excluded) == 5
    assert all(h.document_id == docs[0] for h in excluded)

    # Only some documents (a reader's audience): k hits of theirs, however few they are
    # among the rows searched, and nothing when none may be returned.
    both = {small: 1, big: 1}
    best = np.sort(vectors[docs[0]] @ target)[-5:][::-1]
    # Again and again: PostgreSQL plans a statement prepared often once for all values.
    for _ in range(8):
        scope = SearchScope(model, DIMS, both, only_documents={docs[0]})
        only = await store.search(scope, target, 5)
        assert len(only) == 5
        assert all(h.document_id == docs[0] for h in only)
        assert [h.score for h in only] == pytest.approx([float(x) for x in best], abs=1e-4)
    assert await store.search(SearchScope(model, DIMS, both, only_documents=()), target, 5) == []
    mixed = SearchScope(model, DIMS, both, {docs[0]}, only_documents={docs[0], docs[1]})
    assert {h.document_id for h in await store.search(mixed, target, 5)} == {docs[1]}

    await store.delete_chunks(model, chunk_ids[docs[0]][:10])
    await store.delete_document(docs[1])
    assert await store.count(model, small) == 30
    after = await store.search(SearchScope(model, DIMS, {small: 2}), target, 50)
    assert len(after) == 30
    await store.delete_collection(model, big)
    assert await store.count(model, big) == 0
    await store.delete_collection(model, small)


@pytest.fixture
async def pgvector_app(
    database: DbUnderTest, pgvector_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A server whose vectors live in pgvector (its rows in the database under test)."""
    settings: Settings = make_settings(
        database, knowledge={"vector_store": "pgvector", "vector_url": pgvector_url}
    )
    container = Container.build(settings)
    await migrations.upgrade_engine(container.db.engine)
    await container.start()
    transport = httpx.ASGITransport(app=create_app(settings, container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield container, http
    finally:
        await container.close()


async def test_documents_are_indexed_and_searched_in_pgvector(
    pgvector_app: tuple[Container, httpx.AsyncClient], container: Container
) -> None:
    pg_container, http = pgvector_app
    gql = GraphQLClient(http)
    admin = await PeopleFactory(pg_container).admin()
    ids = await make_collection(gql, admin.token, "pgvector handbook")
    path = HANDBOOK / "travel-and-leave" / "leave.md"
    sent = await upload(http, admin.token, ids["collection"], "leave.md", path.read_bytes())
    done = await wait_indexed(gql, admin.token, sent["document"]["id"])
    assert done["status"] == "READY"
    store = pg_container.vector_store
    assert isinstance(store, PgVectorStore)
    model, collection = uuid.UUID(ids["model"]), uuid.UUID(ids["collection"])
    assert await store.count(model, collection) == done["chunksTotal"]
    # The embedded store holds nothing: the vectors went to pgvector.
    assert await TableVectorStore(pg_container.db).count(model, collection) == 0
    row = await _model_row(pg_container, model)
    embedder = pg_container.models.embedder(embedding_spec(row, lambda _: None))
    query = embedder.embed_query("How much annual leave do employees earn each pay period?")
    hits = await store.search(SearchScope(model, 384, {collection: 1}), query, 3)
    assert hits
    assert hits[0].document_id == uuid.UUID(done["id"])

    # A grounded reply, its citations found in pgvector.
    member = await PeopleFactory(pg_container).member()
    agent = await make_agent(pg_container, admin, llm="scripted?tokens=8")
    await gql.data(
        "mutation ($id: ID!, $m: ID!, $c: [ID!]!) {"
        " updateAgent(id: $id, input: {embeddingModelId: $m}) { __typename }"
        " setAgentCollections(agentId: $id, collectionIds: $c) { __typename } }",
        {"id": str(agent.id), "m": ids["model"], "c": [ids["collection"]]},
        admin.token,
    )
    (session,) = await make_sessions(pg_container, member, agent.id, 1)
    sent_message = await gql.data(
        SEND,
        {
            "input": {
                "sessionId": str(session.id),
                "content": "How much annual leave do I earn?",
                "clientMessageId": "pgvector-1",
            }
        },
        member.token,
    )
    reply_id = sent_message["sendMessage"]["assistantMessage"]["id"]
    for _ in range(400):
        page = await gql.data(
            "query ($s: ID!) { chatMessages(sessionId: $s) { ... on ChatMessageConnection"
            " { edges { node { id status citations { documentId score } } } } } }",
            {"s": str(session.id)},
            member.token,
        )
        reply = next(
            e["node"] for e in page["chatMessages"]["edges"] if e["node"]["id"] == reply_id
        )
        if reply["status"] != "STREAMING":
            break
        await asyncio.sleep(0.05)
    assert reply["status"] == "COMPLETED"
    assert reply["citations"][0]["documentId"] == done["id"]
    deleted = await gql.data(
        "mutation ($id: ID!) { deleteDocument(id: $id) { __typename } }",
        {"id": done["id"]},
        admin.token,
    )
    assert deleted["deleteDocument"]["__typename"] == "Deleted"
    assert await store.count(model, collection) == 0
    await store.delete_collection(model, collection)


async def _model_row(container: Container, model_id: uuid.UUID) -> EmbeddingModel:
    async with container.db.read() as session:
        row = await session.get(EmbeddingModel, model_id)
    assert row is not None
    return row


async def test_pgvector_keeps_finding_k_when_the_plan_of_a_filtered_search_is_cached(
    pgvector_url: str,
) -> None:
    """One document in twenty may be returned; after five executions PostgreSQL may
    plan the prepared statement once for all values (an index scan whose filter then
    leaves fewer than k): the search must still return k, every time."""
    store = PgVectorStore(pgvector_url, ef_search=40)
    await store.check()
    rng = np.random.default_rng(11)
    model, collection = uuid.uuid4(), uuid.uuid4()
    docs = [uuid.uuid4() for _ in range(20)]
    try:
        for d in docs:
            rows = VectorRows(d, collection, [uuid.uuid4() for _ in range(100)], unit(rng, 100))
            await store.add(model, rows)
        async with store.engine.begin() as conn:
            await conn.execute(text(f'ANALYZE "{table_name(model)}"'))
        scope = SearchScope(model, DIMS, {collection: 1}, only_documents={docs[0]})
        query = unit(rng, 1)[0]
        found = [len(await store.search(scope, query, 20)) for _ in range(10)]
        assert found == [20] * 10
    finally:
        await store.delete_collection(model, collection)
        await store.close()
