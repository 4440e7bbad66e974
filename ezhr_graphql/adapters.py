"""The adapters a process uses, each built from the settings: the broker, the vector
store, the attempt counters, the ingestion queue, and the runs of replies."""

from __future__ import annotations

from ezhr_graphql.db import Database
from ezhr_graphql.pubsub import Broker, MemoryBroker
from ezhr_graphql.rag import ModelRegistry
from ezhr_graphql.services.ingestion import Ingestion, IngestionQueue, LocalIngestionQueue
from ezhr_graphql.services.insights.matching import ApprovedAnswers
from ezhr_graphql.services.replies.planning import Planner
from ezhr_graphql.services.replies.runs import RunManager
from ezhr_graphql.services.retrieval import Retriever
from ezhr_graphql.services.throttle import AttemptCounter, MemoryCounter, RedisCounter
from ezhr_graphql.settings import Settings, VectorStoreKind
from ezhr_graphql.vectors import PgVectorStore, TableVectorStore, VectorStore


def build_runs(
    settings: Settings, db: Database, broker: Broker, models: ModelRegistry, retriever: Retriever
) -> RunManager:
    """Replies: planned from approved answers, then the agent's knowledge or model."""
    approved = ApprovedAnswers(db)
    planner = Planner(
        db,
        models,
        settings.chat,
        settings.llm_secret,
        retriever=retriever,
        no_answer_message=settings.knowledge.default_no_answer_message,
        approved=approved,
    )
    return RunManager(db, broker, planner, settings.chat)


def build_broker(settings: Settings) -> Broker:
    retention = settings.chat.stream_retention_seconds
    if settings.redis_url:
        from ezhr_graphql.pubsub.redis import RedisBroker

        return RedisBroker(settings.redis_url, retention=retention)
    return MemoryBroker(retention=retention)


def build_vector_store(settings: Settings, db: Database) -> VectorStore:
    """``auto`` means pgvector when a vector database URL is configured, else the
    embedded store in the application database."""
    knowledge = settings.knowledge
    kind = knowledge.vector_store
    if kind is VectorStoreKind.AUTO:
        kind = VectorStoreKind.PGVECTOR if knowledge.vector_url else VectorStoreKind.DATABASE
    if kind is VectorStoreKind.DATABASE:
        return TableVectorStore(db)
    url = knowledge.vector_url or settings.database.url
    if not url.startswith("postgresql"):
        raise ValueError("The pgvector store needs a PostgreSQL URL (EZHR_KNOWLEDGE__VECTOR_URL)")
    if knowledge.vector_url is None:
        return PgVectorStore(url, knowledge.hnsw_ef_search, engine=db.engine)
    return PgVectorStore(url, knowledge.hnsw_ef_search)


def build_counter(broker: Broker, prefix: str) -> AttemptCounter:
    """Shared through Redis when the broker is, else this process's own (a new table
    for each call)."""
    redis = broker.redis
    return MemoryCounter() if redis is None else RedisCounter(redis, prefix)


def build_queue(settings: Settings, ingestion: Ingestion) -> IngestionQueue:
    mode = settings.knowledge.queue
    if mode == "auto":
        mode = "redis" if settings.redis_url else "local"
    if mode == "redis":
        if not settings.redis_url:
            raise ValueError("The redis ingestion queue needs EZHR_REDIS_URL")
        from ezhr_graphql.jobs import RedisIngestionQueue

        return RedisIngestionQueue(settings.redis_url, settings.knowledge.queue_name)
    return LocalIngestionQueue(ingestion, settings.knowledge.ingest_concurrency)
