"""The throw-away pgvector server of tests/pgvector_server.py: nearest neighbours through an
HNSW index, with SQLAlchemy on asyncpg."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def literal(vector: list[float]) -> str:
    """asyncpg has no codec for vector: vectors travel as text, cast with ::vector."""
    return "[" + ",".join(str(x) for x in vector) + "]"


async def test_hnsw_cosine_nearest_neighbours(pgvector_url: str) -> None:
    table = f"pgvector_smoke_{uuid.uuid4().hex[:8]}"
    rows = {
        "east": [1.0, 0.0, 0.0],
        "north": [0.0, 1.0, 0.0],
        "north_east": [1.0, 1.0, 0.0],
        "up": [0.0, 0.0, 1.0],
        "west": [-1.0, 0.0, 0.0],
    }
    engine = create_async_engine(pgvector_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            await conn.execute(
                text(f"CREATE TABLE {table} (name text PRIMARY KEY, embedding vector(3) NOT NULL)")
            )
            await conn.execute(
                text(
                    f"CREATE INDEX {table}_embedding ON {table} "
                    "USING hnsw (embedding vector_cosine_ops)"
                )
            )
            await conn.execute(
                text(f"INSERT INTO {table} (name, embedding) VALUES (:name, CAST(:v AS vector))"),
                [{"name": name, "v": literal(v)} for name, v in rows.items()],
            )
        async with engine.connect() as conn:
            query = text(
                f"SELECT name, embedding <=> CAST(:q AS vector) AS distance FROM {table} "
                "ORDER BY embedding <=> CAST(:q AS vector) LIMIT :k"
            )
            # The planner must take the index, not a sequential scan and sort.
            await conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(
                (await conn.execute(text(f"EXPLAIN {query.text}"), {"q": "[1,0.2,0]", "k": 3}))
                .scalars()
                .all()
            )
            assert f"Index Scan using {table}_embedding" in plan

            result = await conn.execute(query, {"q": literal([1.0, 0.2, 0.0]), "k": 3})
            found = [(name, float(distance)) for name, distance in result.all()]

            assert [name for name, _ in found] == ["east", "north_east", "north"]
            distances = [distance for _, distance in found]
            assert distances == sorted(distances)
            # cosine distance of [1, 0.2, 0] from [1, 0, 0]: 1 - 1/sqrt(1.04)
            assert distances[0] == pytest.approx(1 - 1 / 1.04**0.5, abs=1e-6)

            # Same query with a literal in the SQL text, as in the brief.
            literal_query = (
                f"SELECT name FROM {table} ORDER BY embedding <=> '[0,0,1]'::vector LIMIT 2"
            )
            names = (await conn.execute(text(literal_query))).scalars().all()
            assert names[0] == "up"
            await conn.rollback()
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await engine.dispose()
