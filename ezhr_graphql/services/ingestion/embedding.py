"""What is embedded for a chunk, with which models, and how.

A collection is embedded with its model and, while it moves to another, with that one
too: :func:`collection_models` says which, as of now. :class:`Embedding` runs a model
over texts in batches, on background threads (below the event loop in CPU priority).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ezhr_graphql.db import Database
from ezhr_graphql.models import EmbeddingModel
from ezhr_graphql.rag import EmbeddingSpec, LLMError, ModelRegistry
from ezhr_graphql.rag.threads import run_in_background
from ezhr_graphql.repositories.knowledge import CollectionRepository
from ezhr_graphql.services.ingestion.progress import Failed
from ezhr_graphql.settings import KnowledgeSettings
from ezhr_graphql.vectors import Vectors


def embedding_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """What is embedded for a chunk: its text under the document's title and headings,
    so that a passage is found by what it is about, not only by its own words (the
    stored text, quoted in citations, stays as written)."""
    context = " > ".join(part for part in (title, *heading_path) if part)
    return f"{context}\n{text}" if context else text


def embedding_spec(
    row: EmbeddingModel, secret: Callable[[str | None], str | None]
) -> EmbeddingSpec:
    return EmbeddingSpec(
        provider=row.provider,
        model_name=row.model_name,
        dimensions=row.dimensions,
        base_url=row.base_url,
        api_key=secret(row.secret_ref),
    )


async def collection_models(db: Database, collection_id: uuid.UUID) -> list[EmbeddingModel]:
    """The collection's model, then the one it is moving to (if any), as now.

    Raises:
        Failed: ``NOT_FOUND`` if the collection is gone, ``EMBEDDING_MODEL_MISSING``
            if neither model is left.
    """
    async with db.read() as session:
        collection = await CollectionRepository.from_session(session).get(collection_id)
        if collection is None:
            raise Failed("NOT_FOUND", "The document's collection no longer exists")
        ids = [collection.embedding_model_id]
        if collection.pending_embedding_model_id is not None:
            ids.append(collection.pending_embedding_model_id)
        found = [await session.get(EmbeddingModel, id) for id in ids]
    models = [m for m in found if m is not None and m.deleted_at is None]
    if not models:
        raise Failed("EMBEDDING_MODEL_MISSING", "The collection's embedding model was deleted")
    return models


@dataclass(frozen=True, slots=True)
class Embedding:
    """Embeds texts with an embedding model's row: the process's models, how to find
    their secrets, and the batch size of the knowledge settings."""

    models: ModelRegistry
    secret: Callable[[str | None], str | None]
    settings: KnowledgeSettings

    async def embed(
        self,
        model: EmbeddingModel,
        texts: Sequence[str],
        on_batch: Callable[[int], Awaitable[None]] | None = None,
    ) -> Vectors:
        """Embed ``texts`` with ``model`` in batches, telling ``on_batch`` how many
        are done after each.

        Raises:
            Failed: the model could not be loaded or could not embed (its error code).
        """
        spec = embedding_spec(model, self.secret)
        try:
            embedder = await run_in_background(self.models.embedder, spec)
            parts: list[Vectors] = []
            size = self.settings.embed_batch_size
            for start in range(0, len(texts), size):
                batch = list(texts[start : start + size])
                parts.append(await run_in_background(embedder.embed_documents, batch))
                if on_batch is not None:
                    await on_batch(start + len(batch))
        except LLMError as exc:
            raise Failed(exc.code, exc.message) from exc
        if not parts:
            return np.zeros((0, model.dimensions), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)
