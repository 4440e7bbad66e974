"""Ingestion when a step fails or is called off: what a swap put in stays searchable,
a chunk is embedded from the same text whenever it is embedded, and a move to another
embedding model that is given up leaves no vectors behind."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ezhr_graphql.container import Container
from ezhr_graphql.models import Collection as CollectionRow
from ezhr_graphql.models import DocumentChunk, DocumentStatus, EmbeddingModel
from ezhr_graphql.services.ingestion import pipeline
from ezhr_graphql.services.ingestion.progress import Failed
from ezhr_graphql.vectors import SearchScope
from tests.conftest import GraphQLClient, PeopleFactory
from tests.knowledge import (
    HANDBOOK,
    add_model,
    indexed_document,
    make_collection,
    upload,
    wait_indexed,
)

LEAVE = HANDBOOK / "travel-and-leave"
FMLA = LEAVE / "fmla.md"


def database_down() -> OperationalError:
    """What a brief database failure raises."""
    return OperationalError("UPDATE document", {}, ConnectionError("connection lost"))


async def chunks_of(container: Container, document_id: str) -> list[DocumentChunk]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == uuid.UUID(document_id))
            .order_by(DocumentChunk.ordinal)
        )
        return list(rows)


async def collection_row(container: Container, collection_id: uuid.UUID) -> CollectionRow:
    async with container.db.read() as session:
        row = await session.get(CollectionRow, collection_id)
    assert row is not None
    return row


async def found_chunks(
    container: Container, ids: dict[str, str], text: str, k: int
) -> set[uuid.UUID]:
    """The chunks the collection's vectors answer ``text`` with, as a search would."""
    collection = await collection_row(container, uuid.UUID(ids["collection"]))
    async with container.db.read() as session:
        model = await session.get(EmbeddingModel, collection.embedding_model_id)
    assert model is not None
    query = await container.ingestion.embedding.embed(model, [text])
    scope = SearchScope(model.id, model.dimensions, {collection.id: collection.index_version})
    return {hit.chunk_id for hit in await container.vector_store.search(scope, query, k)}


def fail_after_the_swap(
    monkeypatch: pytest.MonkeyPatch, container: Container, step: str
) -> list[str]:
    """Make ``step`` (checking the collection's models, or recording READY) fail once
    after a run swapped its chunks in; the list says which failed."""
    failed: list[str] = []
    swapped = False
    swap, models = pipeline.swap_chunks, pipeline.collection_models
    record = container.ingestion.reporter.record

    async def swap_then_arm(*args: Any) -> Any:
        nonlocal swapped
        replaced = await swap(*args)
        swapped = replaced is not None and replaced is not pipeline.RETRY
        return replaced

    def once(call: Callable[..., Awaitable[Any]], fires: Callable[..., bool]) -> Any:
        async def failing(*args: Any) -> Any:
            if swapped and not failed and fires(*args):
                failed.append(step)
                raise database_down()
            return await call(*args)

        return failing

    monkeypatch.setattr(pipeline, "swap_chunks", swap_then_arm)
    if step == "models":
        monkeypatch.setattr(pipeline, "collection_models", once(models, lambda *_: True))
    else:
        ready = once(record, lambda _id, _rev, progress: progress.status is DocumentStatus.READY)
        monkeypatch.setattr(container.ingestion.reporter, "record", ready)
    return failed


@pytest.mark.parametrize("step", ["models", "ready"])
async def test_a_failure_after_the_swap_keeps_the_new_chunks_searchable(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    admin = await people.admin()
    ids, done = await indexed_document(client, gql, admin.token, FMLA)
    document_id = done["id"]
    before = {c.id for c in await chunks_of(container, document_id)}
    failed = fail_after_the_swap(monkeypatch, container, step)

    await gql.data(
        "mutation ($id: ID!) { reindexDocument(id: $id) { __typename } }",
        {"id": document_id},
        admin.token,
    )
    await container.ingestion_queue.join()  # type: ignore[attr-defined]
    assert failed == [step]
    chunks = await chunks_of(container, document_id)
    assert chunks
    assert not {c.id for c in chunks} & before  # the re-index was swapped in
    model, collection = uuid.UUID(ids["model"]), uuid.UUID(ids["collection"])
    assert await container.vector_store.count(model, collection) == len(chunks)
    found = await found_chunks(container, ids, chunks[0].text, len(chunks))
    assert found == {c.id for c in chunks}
    # READY is recorded again after a failed try; a failed check of the models only
    # leaves vectors no search uses.
    final = await wait_indexed(gql, admin.token, document_id, within=5)
    assert (final["status"], final["errorCode"]) == ("READY", None)


# Longer than a document's title may be (200 characters); no space where it is cut.
LONG_TITLE = ("Family and medical leave policy " * 10)[:300]


async def test_a_long_title_is_embedded_the_same_at_first_and_under_a_new_model(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    embedded: dict[uuid.UUID, list[str]] = {}
    embed = container.ingestion._embed

    async def capture(model: EmbeddingModel, texts: Any, on_batch: Any = None) -> Any:
        embedded.setdefault(model.id, []).extend(texts)
        return await embed(model, texts, on_batch)

    monkeypatch.setattr(container.ingestion, "_embed", capture)
    text = FMLA.read_text(encoding="utf-8")
    text = text.replace("title: Family Medical Leave Act (FMLA)", f"title: {LONG_TITLE}", 1)
    assert LONG_TITLE in text
    sent = await upload(client, admin.token, ids["collection"], "fmla.md", text.encode())
    done = await wait_indexed(gql, admin.token, sent["document"]["id"])
    assert done["status"] == "READY", done
    assert done["title"] == LONG_TITLE[:200]

    new_model = await add_model(gql, admin.token, "minilm-long-title")
    await gql.data(
        "mutation ($id: ID!, $m: ID!) { updateCollection(id: $id, "
        "input: {embeddingModelId: $m}) { __typename } }",
        {"id": ids["collection"], "m": new_model},
        admin.token,
    )
    await container.ingestion_queue.join()  # type: ignore[attr-defined]
    collection = await collection_row(container, uuid.UUID(ids["collection"]))
    assert collection.embedding_model_id == uuid.UUID(new_model)
    first, again = embedded[uuid.UUID(ids["model"])], embedded[uuid.UUID(new_model)]
    assert first == again
    # Under the title as stored, then the chunk's headings.
    assert {t.split("\n", 1)[0].split(" > ")[0] for t in first} == {LONG_TITLE[:200]}


def midway(container: Container, collection: uuid.UUID, model: uuid.UUID) -> dict[str, Any]:
    """What another worker does to the move while it embeds its second document: gives
    it up, or finishes it."""

    async def abandon() -> None:
        await container.ingestion.abandon_move(collection, model, Failed("BUSY", "Gave up"))

    async def finish() -> None:
        async with container.db.transaction() as session:
            row = await session.get(CollectionRow, collection)
            assert row is not None
            row.embedding_model_id, row.pending_embedding_model_id = model, None

    return {"abandoned": abandon, "finished": finish}


@pytest.mark.parametrize("elsewhere", ["abandoned", "finished"])
async def test_a_move_changed_elsewhere_midway_leaves_only_the_vectors_in_use(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    elsewhere: str,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    sent = [
        await upload(client, admin.token, ids["collection"], name, (LEAVE / name).read_bytes())
        for name in ("fmla.md", "overtime.md")
    ]
    chunks = 0
    for result in sent:
        assert (await wait_indexed(gql, admin.token, result["document"]["id"]))["status"] == "READY"
        chunks += len(await chunks_of(container, result["document"]["id"]))
    old, collection = uuid.UUID(ids["model"]), uuid.UUID(ids["collection"])
    new = uuid.UUID(await add_model(gql, admin.token, "minilm-moved"))

    embed, calls = container.ingestion._embed, 0
    change = midway(container, collection, new)[elsewhere]

    async def changed_midway(model: EmbeddingModel, texts: Any, on_batch: Any = None) -> Any:
        nonlocal calls
        if model.id == new:
            calls += 1
            if calls == 2:
                await change()
        return await embed(model, texts, on_batch)

    monkeypatch.setattr(container.ingestion, "_embed", changed_midway)
    async with container.db.transaction() as session:
        row = await session.get(CollectionRow, collection)
        assert row is not None
        row.pending_embedding_model_id = new
    await container.ingestion.reembed_collection(collection, new)
    assert calls == 2

    row = await collection_row(container, collection)
    assert row.pending_embedding_model_id is None
    if elsewhere == "abandoned":  # the old model keeps serving; nothing of the new stays
        assert row.embedding_model_id == old
        assert await container.vector_store.count(new, collection) == 0
        assert await container.vector_store.count(old, collection) == chunks
    else:  # the move is done: its vectors are the index
        assert row.embedding_model_id == new
        assert await container.vector_store.count(new, collection) == chunks
