"""Database plumbing: declarative base, engine factory and the unit-of-work helper."""

from ezhr_graphql.db.base import Base, SoftDeleteMixin, TimestampedMixin, utcnow
from ezhr_graphql.db.database import Database
from ezhr_graphql.db.engine import create_engine, create_read_engine

__all__ = [
    "Base",
    "Database",
    "SoftDeleteMixin",
    "TimestampedMixin",
    "create_engine",
    "create_read_engine",
    "utcnow",
]
