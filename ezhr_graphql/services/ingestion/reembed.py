"""Moving a collection to another embedding model.

Every chunk of the collection is embedded again with the new model, beside the
vectors of the old one, and the collection switches models in one transaction. If the
new model fails, the move is given up and the old model keeps serving.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ezhr_graphql.db import Database
from ezhr_graphql.models import Document, EmbeddingModel
from ezhr_graphql.repositories.knowledge import (
    ChunkRepository,
    CollectionRepository,
    DocumentRepository,
)
from ezhr_graphql.services.ingestion.embedding import embedding_text
from ezhr_graphql.services.ingestion.progress import Failed
from ezhr_graphql.vectors import VectorRows, Vectors, VectorStore

Embed = Callable[[EmbeddingModel, Sequence[str]], Awaitable[Vectors]]
# Gives up a collection's move to a model: (collection id, model id, why).
Abandon = Callable[[uuid.UUID, uuid.UUID, Failed], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reembedding:
    """Re-embeds a collection with ``embed``; ``abandon`` gives up a failed move."""

    db: Database
    store: VectorStore
    embed: Embed
    abandon: Abandon

    async def run(self, collection_id: uuid.UUID, model_id: uuid.UUID) -> None:
        """Embed every chunk of the collection with ``model_id``, then swap models."""
        found = await self._start(collection_id, model_id)
        if found is None:
            return
        model, documents = found
        await self.store.delete_collection(model_id, collection_id)  # any earlier attempt
        for doc in documents:
            try:
                await self._embed_document(doc, model, collection_id)
            except Failed as failure:
                await self.abandon(collection_id, model_id, failure)
                return  # the old model keeps serving; the change can be asked again
        await self._switch(collection_id, model_id)

    async def _start(
        self, collection_id: uuid.UUID, model_id: uuid.UUID
    ) -> tuple[EmbeddingModel, list[Document]] | None:
        """The model and the collection's documents, or ``None`` if the collection is
        gone or no longer moving to that model."""
        async with self.db.read() as session:
            collection = await CollectionRepository.from_session(session).get(collection_id)
            model = await session.get(EmbeddingModel, model_id)
            if (
                collection is None
                or collection.pending_embedding_model_id != model_id
                or model is None
            ):
                return None
            documents = await DocumentRepository.from_session(session).in_collection(collection_id)
        return model, documents

    async def _embed_document(
        self, doc: Document, model: EmbeddingModel, collection_id: uuid.UUID
    ) -> None:
        """Add vectors for the document's chunks with ``model``.

        Raises:
            Failed: the model could not embed them.
        """
        async with self.db.read() as session:
            chunks = await ChunkRepository.from_session(session).of_document(doc.id)
        if not chunks:
            return
        texts = [embedding_text(doc.title, c.heading_path, c.text) for c in chunks]
        vectors = await self.embed(model, texts)
        await self.store.add(
            model.id, VectorRows(doc.id, collection_id, [c.id for c in chunks], vectors)
        )

    async def _switch(self, collection_id: uuid.UUID, model_id: uuid.UUID) -> None:
        """Make ``model_id`` the collection's model, then drop the old model's vectors;
        if the move was called off meanwhile, drop the ones this run wrote instead."""
        unused: uuid.UUID | None = None
        async with self.db.transaction() as session:
            current = await CollectionRepository.from_session(session).lock(collection_id)
            if current is not None and current.pending_embedding_model_id == model_id:
                if current.embedding_model_id != model_id:
                    unused = current.embedding_model_id
                current.embedding_model_id = model_id
                current.pending_embedding_model_id = None
                current.index_version += 1
            elif current is None or current.embedding_model_id != model_id:
                # Given up (or the collection deleted) while this run added vectors,
                # after whoever gave it up removed what was there: nothing else
                # removes the ones added since. (If another run finished the same
                # move instead, they are the index and stay.)
                unused = model_id
        if unused is not None:
            await self.store.delete_collection(unused, collection_id)
