"""The embedded vector store: vectors in the application database (``chunk_vector``),
searched exactly in memory.

Each process keeps one matrix per collection and model, loaded on first search and
reloaded when the collection's ``index_version`` moves, so every worker sees what
another wrote. A search is one matrix-vector product: a few milliseconds at 100k
chunks of 384 dimensions, with no approximation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select

from ezhr_graphql.db import Database
from ezhr_graphql.models import ChunkVector
from ezhr_graphql.vectors.base import (
    Hit,
    SearchScope,
    VectorRows,
    Vectors,
    as_blob,
    from_blobs,
)

INSERT_BATCH = 500
LOAD_PAGE = 2000
# A collection of this many chunks is scanned in a worker thread (some milliseconds).
THREAD_ROWS = 10_000
# A search limited to under 1/GATHER_SHARE of a matrix's rows scores a copy of them.
GATHER_SHARE = 4


@dataclass(frozen=True, slots=True)
class _Matrix:
    version: int
    chunk_ids: list[uuid.UUID]
    document_ids: list[uuid.UUID]
    document_codes: NDArray[np.int32]  # index into document_ids, per row
    vectors: Vectors


def _matrix(version: int, rows: Sequence[tuple[uuid.UUID, uuid.UUID, bytes]], dims: int) -> _Matrix:
    codes: dict[uuid.UUID, int] = {}
    document_codes = np.fromiter(
        (codes.setdefault(document_id, len(codes)) for _, document_id, _ in rows),
        dtype=np.int32,
        count=len(rows),
    )
    return _Matrix(
        version=version,
        chunk_ids=[chunk_id for chunk_id, _, _ in rows],
        document_ids=list(codes),
        document_codes=document_codes,
        vectors=from_blobs([blob for _, _, blob in rows], dims),
    )


class TableVectorStore:
    name = "database"

    def __init__(self, db: Database, max_matrices: int = 32) -> None:
        self.db = db
        # Matrices kept per process (collection and model pairs); the least recently
        # loaded goes first.
        self.max_matrices = max_matrices
        self._matrices: dict[tuple[uuid.UUID, uuid.UUID], _Matrix] = {}
        self._loading: dict[tuple[uuid.UUID, uuid.UUID], asyncio.Lock] = {}

    async def add(self, embedding_model_id: uuid.UUID, rows: VectorRows) -> None:
        values = [
            {
                "embedding_model_id": embedding_model_id,
                "chunk_id": chunk_id,
                "collection_id": rows.collection_id,
                "document_id": rows.document_id,
                "vector": as_blob(vector),
            }
            for chunk_id, vector in zip(rows.chunk_ids, rows.vectors, strict=True)
        ]
        for start in range(0, len(values), INSERT_BATCH):
            async with self.db.transaction() as session:
                await session.execute(insert(ChunkVector), values[start : start + INSERT_BATCH])

    async def delete_chunks(
        self, embedding_model_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]
    ) -> None:
        ids = list(chunk_ids)
        for start in range(0, len(ids), INSERT_BATCH):
            async with self.db.transaction() as session:
                await session.execute(
                    delete(ChunkVector).where(
                        ChunkVector.embedding_model_id == embedding_model_id,
                        ChunkVector.chunk_id.in_(ids[start : start + INSERT_BATCH]),
                    )
                )

    async def delete_document(self, document_id: uuid.UUID) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(ChunkVector).where(ChunkVector.document_id == document_id))

    async def delete_collection(
        self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID
    ) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(ChunkVector).where(
                    ChunkVector.embedding_model_id == embedding_model_id,
                    ChunkVector.collection_id == collection_id,
                )
            )
        self._matrices.pop((embedding_model_id, collection_id), None)

    async def count(self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID) -> int:
        async with self.db.read() as session:
            found = await session.scalar(
                select(func.count()).where(
                    ChunkVector.embedding_model_id == embedding_model_id,
                    ChunkVector.collection_id == collection_id,
                )
            )
        return int(found or 0)

    async def _load(
        self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID, version: int, dims: int
    ) -> _Matrix:
        key = (embedding_model_id, collection_id)
        current = self._matrices.get(key)
        if current is not None and current.version == version:
            return current
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._matrices.get(key)
            if current is not None and current.version == version:
                return current
            rows = await self._rows(embedding_model_id, collection_id)
            matrix = await asyncio.to_thread(_matrix, version, rows, dims)
            self._matrices.pop(key, None)
            self._matrices[key] = matrix  # the most recently loaded last
            while len(self._matrices) > self.max_matrices:
                self._matrices.pop(next(iter(self._matrices)))
            return matrix

    async def _rows(
        self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID
    ) -> list[tuple[uuid.UUID, uuid.UUID, bytes]]:
        """Every vector of a collection, read a page at a time: between pages the loop
        serves other requests (SQLite statements run on it)."""
        rows: list[tuple[uuid.UUID, uuid.UUID, bytes]] = []
        last: uuid.UUID | None = None
        while True:
            stmt = (
                select(ChunkVector.chunk_id, ChunkVector.document_id, ChunkVector.vector)
                .where(
                    ChunkVector.embedding_model_id == embedding_model_id,
                    ChunkVector.collection_id == collection_id,
                )
                .order_by(ChunkVector.chunk_id)
                .limit(LOAD_PAGE)
            )
            if last is not None:
                stmt = stmt.where(ChunkVector.chunk_id > last)
            async with self.db.read() as session:
                page = [(r[0], r[1], r[2]) for r in await session.execute(stmt)]
            rows.extend(page)
            if len(page) < LOAD_PAGE:
                return rows
            last = page[-1][0]
            await asyncio.sleep(0)

    async def search(self, scope: SearchScope, query: Vectors, k: int) -> list[Hit]:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        only = None if scope.only_documents is None else set(scope.only_documents)
        documents = _Documents(only, set(scope.exclude_documents))
        hits: list[Hit] = []
        for collection_id, version in scope.collections.items():
            matrix = await self._load(
                scope.embedding_model_id, collection_id, version, scope.dimensions
            )
            if len(matrix.chunk_ids) < THREAD_ROWS:
                hits.extend(_top(matrix, q, k, documents))
            else:  # NumPy lets go of the GIL: the event loop (and the keyword leg) go on
                hits.extend(await asyncio.to_thread(_top, matrix, q, k, documents))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:k]

    async def close(self) -> None:
        self._matrices.clear()


@dataclass(frozen=True, slots=True)
class _Documents:
    """The documents a search may return: ``only`` those (``None``: any), never the
    ``excluded``."""

    only: set[uuid.UUID] | None
    excluded: set[uuid.UUID]

    def rows(self, matrix: _Matrix) -> NDArray[np.intp] | None:
        """The rows of ``matrix`` a search may return; ``None`` for all of them."""
        if self.only is None and not self.excluded:
            return None
        only, excluded = self.only, self.excluded
        allowed = np.fromiter(
            ((only is None or d in only) and d not in excluded for d in matrix.document_ids),
            dtype=bool,
            count=len(matrix.document_ids),
        )
        if allowed.all():
            return None
        return np.flatnonzero(allowed[matrix.document_codes])


def _top(matrix: _Matrix, query: Vectors, k: int, documents: _Documents) -> list[Hit]:
    """The ``k`` rows nearest ``query`` among those ``documents`` allows: only they are
    scored, so a filter that leaves few rows makes the search cheaper, not shorter."""
    if not matrix.chunk_ids or k <= 0:
        return []
    rows = documents.rows(matrix)
    if rows is None:
        scores = matrix.vectors @ query
    elif not len(rows):
        return []
    elif len(rows) * GATHER_SHARE < len(matrix.chunk_ids):
        scores = matrix.vectors[rows] @ query  # copying few rows costs less than scoring all
    else:
        scores = (matrix.vectors @ query)[rows]
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best])]
    index = best if rows is None else rows[best]
    return [
        Hit(
            matrix.chunk_ids[i],
            matrix.document_ids[matrix.document_codes[i]],
            float(score),
        )
        for i, score in zip(index, scores[best], strict=True)
    ]
