"""PostgreSQL with pgvector: one table per embedding model (its vectors have one
length), an HNSW index on cosine distance, and filters on collection and document.

The tables are the store's own, created on first use: their column type depends on
the model, so they are not part of the migrated schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ezhr_graphql.models.knowledge import PGVECTOR_PREFIX
from ezhr_graphql.vectors.base import Hit, SearchScope, VectorRows, Vectors

INSERT_BATCH = 500


def table_name(embedding_model_id: uuid.UUID) -> str:
    return f"{PGVECTOR_PREFIX}{embedding_model_id.hex}"


def literal(vector: Vectors) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class PgVectorStore:
    name = "pgvector"

    def __init__(self, url: str, ef_search: int = 100, engine: AsyncEngine | None = None) -> None:
        self.engine = engine or create_async_engine(url, hide_parameters=True, pool_pre_ping=True)
        self._owns_engine = engine is None
        self.ef_search = ef_search
        self._ready: dict[uuid.UUID, int] = {}
        self._iterative: bool | None = None

    async def check(self) -> None:
        """Create the extension if needed. Raises if pgvector is not available."""
        async with self.engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            version = await conn.scalar(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            )
        major, minor = (int(part) for part in str(version).split(".")[:2])
        # Filtered HNSW scans keep looking past filtered-out rows from 0.8 on.
        self._iterative = (major, minor) >= (0, 8)

    async def _table(self, conn: AsyncConnection, model_id: uuid.UUID, dims: int) -> str:
        name = table_name(model_id)
        if self._ready.get(model_id) == dims:
            return name
        # Two processes creating the same table at once would collide in pg_type.
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
        await conn.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{name}" ('
                "chunk_id uuid PRIMARY KEY, collection_id uuid NOT NULL, "
                f"document_id uuid NOT NULL, embedding vector({dims}) NOT NULL)"
            )
        )
        await conn.execute(
            text(
                f'CREATE INDEX IF NOT EXISTS "{name}_hnsw" ON "{name}" '
                "USING hnsw (embedding vector_cosine_ops)"
            )
        )
        await conn.execute(
            text(f'CREATE INDEX IF NOT EXISTS "{name}_collection" ON "{name}" (collection_id)')
        )
        await conn.execute(
            text(f'CREATE INDEX IF NOT EXISTS "{name}_document" ON "{name}" (document_id)')
        )
        self._ready[model_id] = dims
        return name

    async def _existing_tables(self, conn: AsyncConnection) -> list[str]:
        result = await conn.execute(
            text(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename LIKE :prefix"
            ),
            {"prefix": PGVECTOR_PREFIX + "%"},
        )
        return [row[0] for row in result]

    async def add(self, embedding_model_id: uuid.UUID, rows: VectorRows) -> None:
        dims = int(rows.vectors.shape[1]) if rows.vectors.ndim == 2 else 0
        values = [
            {
                "chunk_id": chunk_id,
                "collection_id": rows.collection_id,
                "document_id": rows.document_id,
                "embedding": literal(vector),
            }
            for chunk_id, vector in zip(rows.chunk_ids, rows.vectors, strict=True)
        ]
        if not values:
            return
        async with self.engine.begin() as conn:
            name = await self._table(conn, embedding_model_id, dims)
            statement = text(
                f'INSERT INTO "{name}" (chunk_id, collection_id, document_id, embedding) '
                "VALUES (:chunk_id, :collection_id, :document_id, CAST(:embedding AS vector)) "
                "ON CONFLICT (chunk_id) DO UPDATE SET embedding = EXCLUDED.embedding"
            )
            for start in range(0, len(values), INSERT_BATCH):
                await conn.execute(statement, values[start : start + INSERT_BATCH])

    async def delete_chunks(
        self, embedding_model_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]
    ) -> None:
        if not chunk_ids:
            return
        async with self.engine.begin() as conn:
            if table_name(embedding_model_id) not in await self._existing_tables(conn):
                return
            await conn.execute(
                text(f'DELETE FROM "{table_name(embedding_model_id)}" WHERE chunk_id = ANY(:ids)'),
                {"ids": list(chunk_ids)},
            )

    async def delete_document(self, document_id: uuid.UUID) -> None:
        async with self.engine.begin() as conn:
            for name in await self._existing_tables(conn):
                await conn.execute(
                    text(f'DELETE FROM "{name}" WHERE document_id = :id'), {"id": document_id}
                )

    async def delete_collection(
        self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID
    ) -> None:
        async with self.engine.begin() as conn:
            if table_name(embedding_model_id) not in await self._existing_tables(conn):
                return
            await conn.execute(
                text(f'DELETE FROM "{table_name(embedding_model_id)}" WHERE collection_id = :id'),
                {"id": collection_id},
            )

    async def count(self, embedding_model_id: uuid.UUID, collection_id: uuid.UUID) -> int:
        async with self.engine.connect() as conn:
            if table_name(embedding_model_id) not in await self._existing_tables(conn):
                return 0
            found = await conn.scalar(
                text(
                    f'SELECT count(*) FROM "{table_name(embedding_model_id)}" '
                    "WHERE collection_id = :id"
                ),
                {"id": collection_id},
            )
        return int(found or 0)

    async def search(self, scope: SearchScope, query: Vectors, k: int) -> list[Hit]:
        if not scope.collections or k <= 0:
            return []
        params: dict[str, object] = {
            "q": literal(query.reshape(-1)),
            "collections": list(scope.collections),
            "excluded": list(scope.exclude_documents),
            "k": k,
        }
        if scope.only_documents is not None:
            if not scope.only_documents:
                return []
            params["only"] = list(scope.only_documents)
        async with self.engine.begin() as conn:
            name = await self._table(conn, scope.embedding_model_id, scope.dimensions)
            await conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, k)}"))
            if self._iterative:
                await conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = list(await conn.execute(text(_nearest(name, scope)), params))
            if len(rows) < k:
                # The index scan comes back short when the filters leave a small part of
                # the table (before pgvector 0.8 they apply after it; from 0.8 it gives
                # up after hnsw.max_scan_tuples). Then rank the filtered rows exactly: a
                # statement of its own, as a plan PostgreSQL cached for the other one
                # would scan the index again whatever the settings say.
                rows = list(await conn.execute(text(_exact(name, scope)), params))
        hits = [Hit(row[0], row[1], 1.0 - float(row[2])) for row in rows]
        hits.sort(key=lambda hit: hit.score, reverse=True)  # relaxed order
        return hits

    async def close(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()


def _filtered(name: str, scope: SearchScope) -> str:
    """The rows a search may return, with their distance to ``:q``: the filters are
    the statement's own (one array each, whatever their length), so no row they leave
    out takes the place of one before the LIMIT."""
    only = "AND document_id = ANY(:only) " if scope.only_documents is not None else ""
    return (
        "SELECT chunk_id, document_id, embedding <=> CAST(:q AS vector) AS distance "
        f'FROM "{name}" WHERE collection_id = ANY(:collections) '
        f"AND NOT (document_id = ANY(:excluded)) {only}"
    )


def _nearest(name: str, scope: SearchScope) -> str:
    """The ``:k`` nearest, through the HNSW index."""
    return _filtered(name, scope) + "ORDER BY distance LIMIT :k"


def _exact(name: str, scope: SearchScope) -> str:
    """The ``:k`` nearest, exactly: filtered first (OFFSET 0 keeps the planner from
    ordering by the HNSW index), through the collection and document indexes."""
    return (
        f"SELECT chunk_id, document_id, distance FROM ({_filtered(name, scope)}OFFSET 0) "
        "AS filtered ORDER BY distance LIMIT :k"
    )
