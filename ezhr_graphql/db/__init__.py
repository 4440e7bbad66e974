"""Database plumbing: declarative base, engine factory and the unit-of-work helper."""

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin, utcnow
from ezhr_graphql.db.database import AfterCommit, Database, after_commit
from ezhr_graphql.db.engine import create_engine, create_read_engine

__all__ = [
    "AfterCommit",
    "Base",
    "Database",
    "SoftDeleteMixin",
    "TimestampedMixin",
    "after_commit",
    "create_engine",
    "create_read_engine",
    "utcnow",
]
