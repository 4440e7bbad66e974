"""What every vector store offers: add, delete and search vectors of chunks, per
embedding model and collection. Scores are cosine similarities (vectors are unit
length); a hit whose chunk is gone is the caller's to skip."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class VectorRows:
    """Vectors of chunks of one document, row ``i`` for ``chunk_ids[i]``."""

    document_id: uuid.UUID
    collection_id: uuid.UUID
    chunk_ids: Sequence[uuid.UUID]
    vectors: Vectors


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    score: float


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Collections to search, with the index version the database holds for each (a
    store that caches vectors reloads a collection whose version moved).

    Within them, a search returns no chunk of ``exclude_documents`` and, when
    ``only_documents`` is set, none but those of ``only_documents``: both are applied
    inside the search, before its top k (what a reader may not read is never a hit,
    and never takes the place of one).
    """

    embedding_model_id: uuid.UUID
    dimensions: int
    collections: dict[uuid.UUID, int]
    exclude_documents: Collection[uuid.UUID] = ()
    only_documents: Collection[uuid.UUID] | None = None


class VectorStore(Protocol):
    name: str

    async def add(self, embedding_model_id: uuid.UUID, rows: VectorRows) -> None: ...

    async def delete_chunks(
        self, embedding_model_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]
    ) -> None: ...

    async def delete_document(self, document_id: uuid.UUID) -> None:
        """Every vector of the document, whatever its model."""
        ...

    async def delete_collection(
        self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID
    ) -> None: ...

    async def search(self, scope: SearchScope, query: Vectors, k: int) -> list[Hit]: ...

    async def count(self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID) -> int: ...

    async def close(self) -> None: ...


def as_blob(vector: Vectors) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dimensions: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimensions)
