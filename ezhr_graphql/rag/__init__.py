"""Everything that talks to LLMs (and, later, retrieval). The only package that
imports llama_index; services reach it through the ``ChatModel`` protocol."""

from ezhr_graphql.rag.chat_model import ChatModel, ChatTurn, LLMError, Usage
from ezhr_graphql.rag.embeddings import Embedder, EmbeddingSpec
from ezhr_graphql.rag.providers import LlmSpec, ModelRegistry

__all__ = [
    "ChatModel",
    "ChatTurn",
    "Embedder",
    "EmbeddingSpec",
    "LLMError",
    "LlmSpec",
    "ModelRegistry",
    "Usage",
]
