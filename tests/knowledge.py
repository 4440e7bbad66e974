"""Helpers for knowledge tests: fixture documents, uploads, waiting for ingestion,
agents answering from collections, and questions asked over a websocket."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader, PdfWriter

from tests.conftest import GraphQLClient, Person
from tests.wsclient import connect

# Small copies of real documents, shipped with the tests (see tests/fixtures/README.md):
# a few pages of the 18F handbook, and an excerpt of a Vietnamese labour regulation.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HANDBOOK = FIXTURES / "18f-handbook"
LABOUR_PDF = FIXTURES / "NQLD01-excerpt.pdf"


def blank_pdf() -> bytes:
    """A valid PDF with one empty page: what a scan without a text layer looks like."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def long_labour_pdf(copies: int = 4) -> bytes:
    """The labour regulation excerpt with its pages repeated ``copies`` times: with 4,
    a PDF about as long as the whole 17-page regulation (over a hundred chunks)."""
    pages = PdfReader(LABOUR_PDF).pages
    writer = PdfWriter()
    for _ in range(copies):
        for page in pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


UPLOAD = """
mutation ($collectionId: ID!, $file: Upload!, $metadata: DocumentMetadataInput) {
  uploadDocument(collectionId: $collectionId, file: $file, metadata: $metadata) {
    __typename
    ... on UploadedDocument { duplicate document { id status kind title filename } }
    ... on UserError { code message }
    ... on InvalidInput { field }
    ... on LimitExceeded { limit }
  }
}"""

DOCUMENT = """
query ($id: ID!) {
  document(id: $id) {
    __typename
    ... on Document {
      id status kind title errorCode errorReason chunksDone chunksTotal outdated tags
      effectiveDate indexedAt
    }
    ... on UserError { code }
  }
}"""

# The operations knowledge tests share, each selecting what any of them reads.
AUDIENCE = "audience { countries offices departments employmentTypes groups everyone }"
UPDATE_DOCUMENT = f"""
mutation ($id: ID!, $input: DocumentMetadataInput!) {{
  updateDocument(id: $id, input: $input) {{
    __typename ... on Document {{ status outdated {AUDIENCE} }}
    ... on InvalidInput {{ field }} ... on UserError {{ code }}
  }}
}}"""
UPDATE_AGENT = """
mutation ($id: ID!, $input: UpdateAgentInput!) {
  updateAgent(id: $id, input: $input) { __typename ... on Agent { id similarityThreshold } }
}"""
SET_COLLECTIONS = """
mutation ($agent: ID!, $ids: [ID!]!) {
  setAgentCollections(agentId: $agent, collectionIds: $ids) {
    __typename ... on Agent { collections { id name } }
  }
}"""
CITATION = "documentId title heading page quote score approvedAnswer { id authorRole approvedAt }"
CHAT = f"""
subscription ($input: SendMessageInput!) {{
  chat(input: $input) {{
    __typename
    ... on ReplyStarted {{ seq messageId }}
    ... on ReplyCitations {{ seq citations {{ {CITATION} }} }}
    ... on ReplyDelta {{ seq text }}
    ... on ReplyCompleted {{
      seq
      message {{
        id status content finishReason grounding unsupportedSpans citations {{ {CITATION} }}
      }}
    }}
    ... on ReplyFailed {{ seq code reason }}
  }}
}}"""


async def upload(
    client: httpx.AsyncClient,
    token: str,
    collection_id: str,
    filename: str,
    data: bytes,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operations = {
        "query": UPLOAD,
        "variables": {"collectionId": collection_id, "file": None, "metadata": metadata},
    }
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data, "application/octet-stream")},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["uploadDocument"]
    return result


async def wait_indexed(
    gql: GraphQLClient, token: str, document_id: str, within: float = 120
) -> dict[str, Any]:
    """The document once READY or FAILED."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = (await gql.data(DOCUMENT, {"id": document_id}, token))["document"]
        if found["status"] in ("READY", "FAILED"):
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)


async def add_model(gql: GraphQLClient, token: str, name: str, dimensions: int = 384) -> str:
    """A local embedding model (all-MiniLM-L6-v2 makes 384 dimensions; any other
    number makes a model whose every embedding fails)."""
    created = await gql.data(
        """mutation ($input: CreateEmbeddingModelInput!) {
          createEmbeddingModel(input: $input) {
            __typename ... on EmbeddingModel { id } ... on UserError { message }
          }
        }""",
        {
            "input": {
                "name": name,
                "provider": "local",
                "modelName": "all-MiniLM-L6-v2",
                "dimensions": dimensions,
            }
        },
        token,
    )
    assert created["createEmbeddingModel"]["__typename"] == "EmbeddingModel", created
    model_id: str = created["createEmbeddingModel"]["id"]
    return model_id


async def make_collection(gql: GraphQLClient, token: str, name: str = "Handbook") -> dict[str, str]:
    """A collection on a new local embedding model; returns both IDs."""
    model_id = await add_model(gql, token, f"minilm-{name}")
    created = await gql.data(
        """mutation ($input: CreateCollectionInput!) {
          createCollection(input: $input) { __typename ... on Collection { id } }
        }""",
        {"input": {"name": name, "embeddingModelId": model_id}},
        token,
    )
    return {"collection": created["createCollection"]["id"], "model": model_id}


async def indexed_document(
    client: httpx.AsyncClient, gql: GraphQLClient, token: str, path: Path
) -> tuple[dict[str, str], dict[str, Any]]:
    """A new collection holding ``path``, indexed; its IDs and the document."""
    ids = await make_collection(gql, token)
    data = path.read_bytes()  # noqa: ASYNC240 - a small test file
    sent = await upload(client, token, ids["collection"], path.name, data)
    done = await wait_indexed(gql, token, sent["document"]["id"])
    assert done["status"] == "READY", done
    return ids, done


async def answer_from(
    gql: GraphQLClient,
    token: str,
    agent_id: uuid.UUID | str,
    model: str,
    collections: list[str],
    **changes: Any,
) -> None:
    """The agent answers from ``collections``, on their embedding model ``model``;
    ``changes`` are more of its settings (fields of UpdateAgentInput)."""
    agent = {"id": str(agent_id), "input": {"embeddingModelId": model, **changes}}
    changed = await gql.data(UPDATE_AGENT, agent, token)
    assert changed["updateAgent"]["__typename"] == "Agent", changed
    attach = {"agent": str(agent_id), "ids": collections}
    attached = (await gql.data(SET_COLLECTIONS, attach, token))["setAgentCollections"]
    assert {c["id"] for c in attached["collections"]} == set(collections), attached


@dataclass
class Reply:
    """The events of one reply, as the CHAT subscription streamed them."""

    events: list[dict[str, Any]]

    @property
    def kinds(self) -> list[str]:
        return [e["__typename"] for e in self.events]

    @property
    def streamed(self) -> str:
        return "".join(e["text"] for e in self.events if e["__typename"] == "ReplyDelta")

    @property
    def citations(self) -> list[dict[str, Any]]:
        (cited,) = [e for e in self.events if e["__typename"] == "ReplyCitations"]
        found: list[dict[str, Any]] = cited["citations"]
        return found

    @property
    def message(self) -> dict[str, Any]:
        assert self.kinds[-1] == "ReplyCompleted", self.events[-1]
        found: dict[str, Any] = self.events[-1]["message"]
        return found


async def ask(url: str, person: Person, session_id: uuid.UUID | str, content: str) -> Reply:
    """Ask ``content`` in the session over a websocket; the reply, to its last event."""
    payload = {"sessionId": str(session_id), "content": content, "clientMessageId": content[:90]}
    async with connect(url, person.token) as ws:
        return Reply([d["chat"] async for d in ws.subscribe(CHAT, {"input": payload}, wait=60)])
