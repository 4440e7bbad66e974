"""Vector stores: the embedded one in the application database, and pgvector."""

from ezhr_graphql.vectors.base import Hit, SearchScope, VectorRows, Vectors, VectorStore
from ezhr_graphql.vectors.pgvector import PgVectorStore
from ezhr_graphql.vectors.table import TableVectorStore

__all__ = [
    "Hit",
    "PgVectorStore",
    "SearchScope",
    "TableVectorStore",
    "VectorRows",
    "VectorStore",
    "Vectors",
]
