"""Real provider clients against a fake OpenAI-compatible server on loopback: each
failure ends the run with a clear code and keeps the partial text."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ezhr_graphql.rag import ChatTurn, EmbeddingSpec, LLMError, LlmSpec, ModelRegistry
from ezhr_graphql.rag.embeddings import LocalEmbedder
from ezhr_graphql.settings import Settings
from tests.conftest import serving


def _chunk(text: str) -> str:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def completions(request: Request) -> Response:
    behaviour = request.headers.get("authorization", "").removeprefix("Bearer ")
    if behaviour in ("401", "429", "500", "503"):
        return JSONResponse({"error": {"message": behaviour}}, status_code=int(behaviour))

    async def stream() -> AsyncIterator[str]:
        for word in ["Annual ", "leave ", "is ", "25 ", "days."]:
            yield _chunk(word)
            if behaviour == "drop" and word == "is ":
                raise ConnectionResetError("dropped")  # the connection breaks mid-reply
            if behaviour == "slow":
                await asyncio.sleep(5)
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


async def embeddings(request: Request) -> Response:
    """Vectors of 4 dimensions derived from each input's length and vowels."""
    if request.headers.get("authorization", "").removeprefix("Bearer ") == "401":
        return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
    inputs = (await request.json())["input"]
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": [len(t), sum(c in "aeiou" for c in t), 1.0, 0.0],
        }
        for i, t in enumerate(inputs)
    ]
    return JSONResponse({"object": "list", "data": data, "model": "fake", "usage": {}})


fake = Starlette(
    routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
async def fake_url() -> AsyncIterator[str]:
    async with serving(fake) as url:
        yield url.replace("ws://", "http://").replace("/graphql", "/v1")


async def run(base_url: str, key: str, limit: float = 10) -> tuple[str, LLMError | None]:
    registry = ModelRegistry(allow_scripted=False)
    model = registry.chat_model(
        LlmSpec("openai_like", "fake", base_url, 4096, 0.1, api_key=key, timeout=limit)
    )
    text = ""
    try:
        async for delta in model.stream([ChatTurn("user", "How much leave?")]):
            text += delta
    except LLMError as exc:
        return text, exc
    finally:
        await registry.aclose()
    return text, None


async def test_a_streamed_reply(fake_url: str) -> None:
    assert await run(fake_url, "ok") == ("Annual leave is 25 days.", None)


@pytest.mark.parametrize(
    ("key", "code"),
    [("401", "LLM_UNAUTHORIZED"), ("429", "LLM_RATE_LIMITED"), ("500", "LLM_UNAVAILABLE"),
     ("503", "LLM_UNAVAILABLE")],
)  # fmt: skip
async def test_http_errors_have_codes(fake_url: str, key: str, code: str) -> None:
    text, error = await run(fake_url, key)
    assert text == ""
    assert error is not None
    assert error.code == code


async def test_a_dropped_connection_keeps_the_partial_text(fake_url: str) -> None:
    text, error = await run(fake_url, "drop")
    assert error is not None
    assert error.code in ("LLM_UNAVAILABLE", "LLM_ERROR")
    assert text.startswith("Annual leave")


async def test_a_timeout(fake_url: str) -> None:
    text, error = await run(fake_url, "slow", limit=0.5)
    assert error is not None
    assert error.code == "LLM_TIMEOUT"
    assert text == "Annual "


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, error = await run(f"http://127.0.0.1:{port}/v1", "ok")
    assert error is not None
    assert error.code == "LLM_UNAVAILABLE"


@pytest.mark.parametrize("provider", ["openai", "openai_like"])
async def test_remote_embeddings_are_unit_vectors_in_order(fake_url: str, provider: str) -> None:
    # The clients block (ingestion runs them on threads); the fake server runs on this loop.
    registry = ModelRegistry(allow_scripted=False)
    spec = EmbeddingSpec(provider, "fake-embed", 4, base_url=fake_url, api_key="ok")
    embedder = await asyncio.to_thread(registry.embedder, spec)
    vectors = await asyncio.to_thread(embedder.embed_documents, ["leave", "a much longer question"])
    assert vectors.shape == (2, 4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[1][0] > vectors[0][0]  # order kept
    query = await asyncio.to_thread(embedder.embed_query, "leave")
    assert np.allclose(query[0], vectors[0])


async def test_remote_embedding_errors_have_codes(fake_url: str) -> None:
    registry = ModelRegistry(allow_scripted=False)
    bad_key = EmbeddingSpec("openai_like", "fake-embed", 4, base_url=fake_url, api_key="401")
    with pytest.raises(LLMError) as caught:
        await asyncio.to_thread(registry.embedder(bad_key).embed_documents, ["leave"])
    assert caught.value.code == "LLM_UNAUTHORIZED"
    wrong_size = EmbeddingSpec("openai_like", "fake-embed", 8, base_url=fake_url, api_key="ok")
    with pytest.raises(LLMError) as caught:
        await asyncio.to_thread(registry.embedder(wrong_size).embed_documents, ["leave"])
    assert caught.value.code == "EMBEDDING_MISMATCH"


@pytest.mark.parametrize("runtime", ["onnx", "numpy"])
def test_the_local_embedding_model_runs_where_configured(runtime: str) -> None:
    settings = Settings(knowledge={"local_embedding_runtime": runtime})
    registry = ModelRegistry(
        allow_scripted=False,
        local_embedding_runtime=settings.knowledge.local_embedding_runtime,
    )
    embedder = registry.embedder(EmbeddingSpec("local", "all-MiniLM-L6-v2", 384))
    assert isinstance(embedder, LocalEmbedder)
    assert embedder.runtime == runtime
    assert embedder.embed_query("How much leave?").shape == (1, 384)
