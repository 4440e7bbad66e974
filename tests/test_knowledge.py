"""Documents in: uploads of every kind, bad input, duplicates, progress, re-indexing,
deletion and embedding model changes, through the API."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ezhr_graphql.container import Container
from ezhr_graphql.models import Collection as CollectionRow
from ezhr_graphql.models import DocumentChunk
from ezhr_graphql.rag import LLMError
from tests.conftest import GraphQLClient, PeopleFactory
from tests.faults import poll
from tests.knowledge import (
    HANDBOOK,
    LABOUR_PDF,
    add_model,
    blank_pdf,
    indexed_document,
    long_labour_pdf,
    make_collection,
    upload,
    wait_indexed,
)
from tests.wsclient import connect

LEAVE = HANDBOOK / "travel-and-leave" / "leave.md"
FMLA = HANDBOOK / "travel-and-leave" / "fmla.md"


def docx_bytes() -> bytes:
    from docx import Document as Docx

    doc = Docx()
    doc.add_heading("Remote work", level=1)
    doc.add_paragraph("Employees may work remotely up to three days a week with approval.")
    doc.add_heading("Equipment", level=2)
    doc.add_paragraph("The company provides a laptop and a monitor for home offices.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


async def chunk_ids(container: Container, document_id: str) -> list[uuid.UUID]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(DocumentChunk.id).where(DocumentChunk.document_id == uuid.UUID(document_id))
        )
        return list(rows)


async def test_markdown_upload_is_indexed_with_front_matter(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    sent = await upload(client, admin.token, ids["collection"], "leave.md", LEAVE.read_bytes())
    assert sent["__typename"] == "UploadedDocument"
    assert sent["duplicate"] is False
    assert sent["document"]["status"] == "QUEUED"
    assert sent["document"]["kind"] == "markdown"
    done = await wait_indexed(gql, admin.token, sent["document"]["id"])
    assert done["status"] == "READY", done
    assert done["title"] == "Leave types"  # from the front matter
    assert done["chunksTotal"] == done["chunksDone"] > 3
    async with container.db.read() as session:
        texts = list(
            await session.scalars(
                select(DocumentChunk.text).where(DocumentChunk.document_id == uuid.UUID(done["id"]))
            )
        )
        paths = list(
            await session.scalars(
                select(DocumentChunk.heading_path).where(
                    DocumentChunk.document_id == uuid.UUID(done["id"])
                )
            )
        )
    assert not any("{%" in t or "{{" in t for t in texts)
    assert any(paths)  # sections under headings keep their heading path
    assert await container.vector_store.count(
        uuid.UUID(ids["model"]), uuid.UUID(ids["collection"])
    ) == len(texts)

    again = await upload(client, admin.token, ids["collection"], "copy.md", LEAVE.read_bytes())
    assert again["duplicate"] is True
    assert again["document"]["id"] == done["id"]
    assert len(await chunk_ids(container, done["id"])) == len(texts)


async def test_every_supported_kind_is_read(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    html = (
        b"<!DOCTYPE html><html><head><title>Expenses</title><style>p{}</style></head>"
        b"<body><h1>Expenses</h1><p>Submit receipts within 30 days of travel.</p></body></html>"
    )
    text = b"Payroll runs on the 15th and the last working day of each month."
    files = {
        "policy.docx": (docx_bytes(), "docx"),
        # Named wrongly on purpose: the type is read from the content.
        "expenses.txt": (html, "html"),
        "payroll": (text, "text"),
        "labour.bin": (LABOUR_PDF.read_bytes(), "pdf"),
    }
    sent = {}
    for name, (data, kind) in files.items():
        result = await upload(client, admin.token, ids["collection"], name, data)
        assert result["document"]["kind"] == kind, name
        sent[name] = result["document"]["id"]
    for name, document_id in sent.items():
        done = await wait_indexed(gql, admin.token, document_id)
        assert done["status"] == "READY", (name, done)
    assert (await wait_indexed(gql, admin.token, sent["expenses.txt"]))["title"] == "Expenses"
    async with container.db.read() as session:
        pages = list(
            await session.execute(
                select(DocumentChunk.page, DocumentChunk.text).where(
                    DocumentChunk.document_id == uuid.UUID(sent["labour.bin"])
                )
            )
        )
    assert all(page is not None and page >= 1 for page, _ in pages)
    labour = " ".join(text for _, text in pages)
    # Vietnamese comes out as real Unicode text, not mojibake.
    assert "Điều" in labour
    assert "lao động" in labour


@pytest.mark.parametrize(
    ("filename", "data", "field_message"),
    [
        ("empty.pdf", b"", "empty"),
        ("picture.pdf", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not supported"),
        ("archive.docx", b"PK\x03\x04" + bytes(range(256)) * 4, "not supported"),
    ],
)
async def test_unusable_uploads_are_typed_errors(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    filename: str,
    data: bytes,
    field_message: str,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    result = await upload(client, admin.token, ids["collection"], filename, data)
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == "file"
    assert field_message in result["message"].lower()
    listed = await gql.data(
        "query ($c: ID!) { documents(collectionId: $c) "
        "{ ... on DocumentConnection { edges { node { id } } } } }",
        {"c": ids["collection"]},
        admin.token,
    )
    assert listed["documents"]["edges"] == []


async def test_oversized_upload_and_missing_collection(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    monkeypatch.setattr(container.settings.knowledge, "max_upload_bytes", 1000)
    big = await upload(client, admin.token, ids["collection"], "big.txt", b"policy " * 500)
    assert big["__typename"] == "LimitExceeded"
    assert big["limit"] == "uploadSize"
    missing = await upload(client, admin.token, str(uuid.uuid4()), "a.txt", b"Some policy text")
    assert missing["__typename"] == "NotFound"


async def test_upload_without_a_file_is_invalid_input(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    body = await gql(
        "mutation ($c: ID!, $f: Upload!) { uploadDocument(collectionId: $c, file: $f) "
        "{ __typename ... on InvalidInput { field } } }",
        {"c": ids["collection"], "f": "not a file"},
        admin.token,
    )
    assert body["data"]["uploadDocument"] == {"__typename": "InvalidInput", "field": "file"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (LABOUR_PDF.read_bytes()[:2000], "CORRUPT_FILE"),
        (blank_pdf(), "NO_TEXT_LAYER"),
    ],
    ids=["corrupt", "scanned"],
)
async def test_unreadable_pdfs_fail_with_a_reason(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    data: bytes,
    code: str,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    sent = await upload(client, admin.token, ids["collection"], "policy.pdf", data)
    done = await wait_indexed(gql, admin.token, sent["document"]["id"])
    assert done["status"] == "FAILED"
    assert done["errorCode"] == code
    assert done["errorReason"]


async def test_members_cannot_see_or_upload_documents(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin, member = await people.admin(), await people.member()
    ids = await make_collection(gql, admin.token)
    body = await gql("{ collections { __typename } }", token=member.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    operations = json.dumps(
        {
            "query": "mutation ($c: ID!, $f: Upload!) "
            "{ uploadDocument(collectionId: $c, file: $f) { __typename } }",
            "variables": {"c": ids["collection"], "f": None},
        }
    )
    response = await client.post(
        "/graphql",
        data={"operations": operations, "map": '{"0": ["variables.f"]}'},
        files={"0": ("a.txt", b"text", "text/plain")},
        headers={"authorization": f"Bearer {member.token}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_malformed_multipart_requests_are_400(
    client: httpx.AsyncClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    auth = {"authorization": f"Bearer {admin.token}"}
    query = '{"query": "{ __typename }"}'
    cases: list[dict[str, str]] = [
        {"map": "{}"},  # no operations
        {"operations": "{", "map": "{}"},  # not JSON
        {"operations": query, "map": '{"file": ["variables.x"]}'},  # no such variable
        {"operations": query, "map": '{"0": ["variables.x"]}'},  # no such file
        {"operations": query, "map": '{"file": "variables.x"}'},  # not a list
        {"operations": "[]", "map": "{}"},  # not an object
    ]
    for case in cases:
        files = {"file": ("a.txt", b"x", "text/plain")}  # makes httpx send multipart
        response = await client.post("/graphql", data=case, files=files, headers=auth)
        assert response.status_code == 400, (case, response.text)
        assert "errors" in response.json()


async def test_multipart_bodies_are_refused_before_they_are_read(
    client: httpx.AsyncClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    body = {"operations": '{"query": "{ __typename }"}', "map": "{}"}
    files = {"file": ("a.txt", b"x", "text/plain")}
    anonymous = await client.post("/graphql", data=body, files=files)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    too_big = container.settings.knowledge.max_upload_bytes * 20
    response = await client.post(
        "/graphql",
        content=b"x" * 10,
        headers={
            "authorization": f"Bearer {admin.token}",
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(too_big),
        },
    )
    assert response.status_code == 413


async def test_file_names_are_cleaned(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    operations = json.dumps(
        {
            "query": "mutation ($c: ID!, $f: Upload!) { uploadDocument(collectionId: $c, "
            "file: $f) { ... on UploadedDocument { document { filename } } } }",
            "variables": {"c": ids["collection"], "f": None},
        }
    )
    # Written by hand: clients escape control characters that a hostile one would not.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        + operations.encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        + b'{"0": ["variables.f"]}'
        + b'\r\n--b\r\nContent-Disposition: form-data; name="0"; '
        + b'filename="../../a\x00b\x07 policy.txt"\r\n\r\nPayroll runs monthly.\r\n--b--\r\n'
    )
    response = await client.post(
        "/graphql",
        content=body,
        headers={
            "authorization": f"Bearer {admin.token}",
            "content-type": "multipart/form-data; boundary=b",
        },
    )
    assert response.status_code == 200, response.text
    uploaded = response.json()["data"]["uploadDocument"]
    assert uploaded["document"]["filename"] == "ab policy.txt"


PROGRESS = (
    "subscription ($id: ID!) { ingestionProgress(documentId: $id) "
    "{ documentId status chunksDone chunksTotal errorCode } }"
)


async def test_ingestion_progress_is_streamed(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, live_url: str
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    # A long document, so that embedding takes a while and reports as it goes.
    sent = await upload(client, admin.token, ids["collection"], "labour.pdf", long_labour_pdf())
    document_id = sent["document"]["id"]
    async with connect(live_url, admin.token) as ws:
        # Generous waits: a busy machine embeds a batch slowly.
        statuses = [
            data["ingestionProgress"]
            async for data in ws.subscribe(PROGRESS, {"id": document_id}, wait=120)
        ]
    assert statuses[-1]["status"] == "READY"
    assert statuses[-1]["chunksDone"] == statuses[-1]["chunksTotal"] > 0
    assert {s["documentId"] for s in statuses} == {document_id}
    embedding = [s["chunksDone"] for s in statuses if s["status"] == "EMBEDDING"]
    assert embedding, statuses
    assert embedding == sorted(embedding)
    # A finished document answers with its final state, then completes.
    async with connect(live_url, admin.token) as ws:
        again = [d["ingestionProgress"] async for d in ws.subscribe(PROGRESS, {"id": document_id})]
    assert [s["status"] for s in again] == ["READY"]


async def test_reindex_swaps_chunks_and_a_failed_one_keeps_the_old_index(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    ids, done = await indexed_document(client, gql, admin.token, LEAVE)
    document_id = done["id"]
    before = set(await chunk_ids(container, document_id))
    model, collection = uuid.UUID(ids["model"]), uuid.UUID(ids["collection"])
    vectors = await container.vector_store.count(model, collection)

    reindex = "mutation ($id: ID!) { reindexDocument(id: $id) { ... on Document { status } } }"
    assert (await gql.data(reindex, {"id": document_id}, admin.token))["reindexDocument"] == {
        "status": "QUEUED"
    }
    done = await wait_indexed(gql, admin.token, document_id)
    assert done["status"] == "READY"
    after = set(await chunk_ids(container, document_id))
    assert len(after) == len(before)
    assert not after & before
    assert await container.vector_store.count(model, collection) == vectors

    def broken(spec: Any) -> Any:
        raise LLMError("LLM_UNAVAILABLE", "The embedding service is down")

    monkeypatch.setattr(container.models, "embedder", broken)
    await gql.data(reindex, {"id": document_id}, admin.token)
    failed = await wait_indexed(gql, admin.token, document_id)
    assert failed["status"] == "FAILED"
    assert failed["errorCode"] == "LLM_UNAVAILABLE"
    assert set(await chunk_ids(container, document_id)) == after
    assert await container.vector_store.count(model, collection) == vectors


async def test_deleting_a_document_removes_its_chunks_and_vectors(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids, done = await indexed_document(client, gql, admin.token, LEAVE)
    document_id = done["id"]
    deleted = await gql.data(
        "mutation ($id: ID!) { deleteDocument(id: $id) { ... on Deleted { id } } }",
        {"id": document_id},
        admin.token,
    )
    assert deleted["deleteDocument"] == {"id": document_id}
    assert await chunk_ids(container, document_id) == []
    assert (
        await container.vector_store.count(uuid.UUID(ids["model"]), uuid.UUID(ids["collection"]))
        == 0
    )
    gone = await gql.data(
        "query ($id: ID!) { document(id: $id) { __typename } }", {"id": document_id}, admin.token
    )
    assert gone["document"]["__typename"] == "NotFound"
    # The same file can come back.
    again = await upload(client, admin.token, ids["collection"], "leave.md", LEAVE.read_bytes())
    assert again["duplicate"] is False


async def test_changing_the_embedding_model_reembeds_then_swaps(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids, done = await indexed_document(client, gql, admin.token, LEAVE)
    chunks = len(await chunk_ids(container, done["id"]))
    new_model = await add_model(gql, admin.token, "minilm-second")
    changed = await gql.data(
        """mutation ($id: ID!, $input: UpdateCollectionInput!) {
          updateCollection(id: $id, input: $input) {
            ... on Collection { reindexing embeddingModel { id } pendingEmbeddingModel { id } }
          }
        }""",
        {"id": ids["collection"], "input": {"embeddingModelId": new_model}},
        admin.token,
    )
    # Until the new index is complete, the old model keeps answering.
    assert changed["updateCollection"]["embeddingModel"]["id"] == ids["model"]
    assert changed["updateCollection"]["pendingEmbeddingModel"]["id"] == new_model
    for _ in range(600):
        state = await gql.data(
            "query ($id: ID!) { collection(id: $id) { ... on Collection "
            "{ reindexing embeddingModel { id } } } }",
            {"id": ids["collection"]},
            admin.token,
        )
        if not state["collection"]["reindexing"]:
            break
        await asyncio.sleep(0.05)
    assert state["collection"] == {"reindexing": False, "embeddingModel": {"id": new_model}}
    collection = uuid.UUID(ids["collection"])
    assert await container.vector_store.count(uuid.UUID(new_model), collection) == chunks
    # The old model's vectors go right after the swap (another store than the rows').
    old = await poll(
        lambda: container.vector_store.count(uuid.UUID(ids["model"]), collection),
        lambda count: count == 0,
    )
    assert old == 0


async def test_reindexing_a_collection_and_deleting_collections(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    sent = [
        await upload(
            client,
            admin.token,
            ids["collection"],
            name,
            (HANDBOOK / "travel-and-leave" / name).read_bytes(),
        )
        for name in ("fmla.md", "overtime.md")
    ]
    for result in sent:
        await wait_indexed(gql, admin.token, result["document"]["id"])
    before = {
        r["document"]["id"]: set(await chunk_ids(container, r["document"]["id"])) for r in sent
    }
    delete = (
        "mutation ($id: ID!) { deleteCollection(id: $id) { __typename ... on Conflict { field } } }"
    )
    refused = await gql.data(delete, {"id": ids["collection"]}, admin.token)
    assert refused["deleteCollection"] == {"__typename": "Conflict", "field": "id"}

    reindexed = await gql.data(
        "mutation ($id: ID!) { reindexCollection(id: $id) { __typename } }",
        {"id": ids["collection"]},
        admin.token,
    )
    assert reindexed["reindexCollection"]["__typename"] == "Collection"
    for document_id, old in before.items():
        done = await wait_indexed(gql, admin.token, document_id)
        assert done["status"] == "READY"
        assert not set(await chunk_ids(container, document_id)) & old

    for document_id in before:
        await gql.data(
            "mutation ($id: ID!) { deleteDocument(id: $id) { __typename } }",
            {"id": document_id},
            admin.token,
        )
    emptied = await gql.data(delete, {"id": ids["collection"]}, admin.token)
    assert emptied["deleteCollection"]["__typename"] == "Deleted"
    listed = await gql.data(
        "{ collections { ... on CollectionConnection { edges { node { id } } } } }",
        token=admin.token,
    )
    assert listed["collections"]["edges"] == []


def hold_embedding(
    monkeypatch: pytest.MonkeyPatch, ingestion: Any, model_id: str | None = None
) -> tuple[asyncio.Event, asyncio.Event]:
    """Make ingestion wait before embedding (with ``model_id``, or any model) until
    the second event is set; the first is set when it starts waiting."""
    original = ingestion._embed
    paused, release = asyncio.Event(), asyncio.Event()

    async def held(model: Any, texts: Any, on_batch: Any = None) -> Any:
        if (model_id is None or str(model.id) == model_id) and not release.is_set():
            paused.set()
            await release.wait()
        return await original(model, texts, on_batch)

    monkeypatch.setattr(ingestion, "_embed", held)
    return paused, release


async def test_a_model_switch_during_a_reindex_leaves_every_chunk_searchable(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    ids, done = await indexed_document(client, gql, admin.token, FMLA)
    document_id = done["id"]
    new_model = await add_model(gql, admin.token, "minilm-switch")

    # The re-index pauses while embedding with the old model...
    ingestion = container.ingestion
    paused, release = hold_embedding(monkeypatch, ingestion, ids["model"])
    await gql.data(
        "mutation ($id: ID!) { reindexDocument(id: $id) { __typename } }",
        {"id": document_id},
        admin.token,
    )
    await asyncio.wait_for(paused.wait(), 30)
    # ...while another worker moves the collection to a new model, start to finish.
    collection = uuid.UUID(ids["collection"])
    async with container.db.transaction() as session:
        row = await session.get(CollectionRow, collection)
        assert row is not None
        row.pending_embedding_model_id = uuid.UUID(new_model)
    await ingestion.reembed_collection(collection, uuid.UUID(new_model))
    release.set()
    done = await wait_indexed(gql, admin.token, document_id)
    assert done["status"] == "READY"
    chunks = await chunk_ids(container, document_id)
    assert await container.vector_store.count(uuid.UUID(new_model), collection) == len(chunks)
    assert await container.vector_store.count(uuid.UUID(ids["model"]), collection) == 0


async def test_a_failing_new_model_is_given_up_and_the_collection_keeps_working(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    ids, _ = await indexed_document(client, gql, admin.token, FMLA)
    # The local model makes 384 dimensions, not 512: every embedding with it fails.
    broken = await add_model(gql, admin.token, "minilm-wrong-size", dimensions=512)
    await gql.data(
        "mutation ($id: ID!, $m: ID!) { updateCollection(id: $id, "
        "input: {embeddingModelId: $m}) { __typename } }",
        {"id": ids["collection"], "m": broken},
        admin.token,
    )
    await container.ingestion_queue.join()  # type: ignore[attr-defined]
    state = await gql.data(
        "query ($id: ID!) { collection(id: $id) { ... on Collection "
        "{ reindexing embeddingModel { id } } } }",
        {"id": ids["collection"]},
        admin.token,
    )
    assert state["collection"] == {"reindexing": False, "embeddingModel": {"id": ids["model"]}}
    later = await upload(
        client,
        admin.token,
        ids["collection"],
        "overtime.md",
        (HANDBOOK / "travel-and-leave" / "overtime.md").read_bytes(),
    )
    assert (await wait_indexed(gql, admin.token, later["document"]["id"]))["status"] == "READY"


async def test_deleting_a_document_ends_its_progress_stream(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    _, gate = hold_embedding(monkeypatch, container.ingestion)
    sent = await upload(client, admin.token, ids["collection"], "fmla.md", FMLA.read_bytes())
    document_id = sent["document"]["id"]
    async with connect(live_url, admin.token) as ws:
        stream = ws.subscribe(PROGRESS, {"id": document_id}, wait=60)
        first = await anext(stream)
        assert first["ingestionProgress"]["status"] in ("QUEUED", "PARSING", "EMBEDDING")
        await gql.data(
            "mutation ($id: ID!) { deleteDocument(id: $id) { __typename } }",
            {"id": document_id},
            admin.token,
        )
        rest = [d["ingestionProgress"] async for d in stream]
    gate.set()
    assert rest[-1]["status"] == "FAILED"
    assert rest[-1]["errorCode"] == "DELETED"
    await container.ingestion_queue.join()  # type: ignore[attr-defined]
    assert await chunk_ids(container, document_id) == []


async def test_an_indexed_models_identity_cannot_change(
    gql: GraphQLClient, people: PeopleFactory
) -> None:
    admin = await people.admin()
    ids = await make_collection(gql, admin.token)
    update = """mutation ($id: ID!, $input: UpdateEmbeddingModelInput!) {
      updateEmbeddingModel(id: $id, input: $input) {
        __typename ... on Conflict { field } ... on EmbeddingModel { name }
      }
    }"""
    refused = await gql.data(
        update, {"id": ids["model"], "input": {"dimensions": 768}}, admin.token
    )
    assert refused["updateEmbeddingModel"] == {"__typename": "Conflict", "field": "dimensions"}
    renamed = await gql.data(update, {"id": ids["model"], "input": {"name": "MiniLM"}}, admin.token)
    assert renamed["updateEmbeddingModel"] == {"__typename": "EmbeddingModel", "name": "MiniLM"}
    deleted = await gql.data(
        "mutation ($id: ID!) { deleteEmbeddingModel(id: $id) { __typename } }",
        {"id": ids["model"]},
        admin.token,
    )
    assert deleted["deleteEmbeddingModel"]["__typename"] == "Conflict"
