"""Prometheus metrics. With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR``
(an empty, writable directory) and ``/metrics`` reports every process together."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

OPERATIONS = Counter(
    "ezhr_graphql_operations_total",
    "GraphQL operations by name, type and outcome (ok, user_error, error).",
    ["operation", "type", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "ezhr_graphql_operation_seconds",
    "Time to execute a GraphQL query or mutation.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
SUBSCRIPTIONS_OPEN = Gauge(
    "ezhr_subscriptions_open",
    "Subscriptions being served now, by field.",
    ["field"],
    multiprocess_mode="livesum",
)
RUNS_ACTIVE = Gauge(
    "ezhr_runs_active",
    "Replies being generated now.",
    multiprocess_mode="livesum",
)
RUNS = Counter("ezhr_runs_total", "Finished replies by status.", ["status"])
TOKENS_STREAMED = Counter("ezhr_tokens_streamed_total", "Text deltas streamed by replies.")
TIME_TO_FIRST_TOKEN = Histogram(
    "ezhr_llm_time_to_first_token_seconds",
    "From the start of a run to its first token (retrieval included).",
    buckets=LATENCY_BUCKETS,
)
INGESTION_QUEUE_DEPTH = Gauge(
    "ezhr_ingestion_queue_depth",
    "Ingestion jobs waiting.",
    multiprocess_mode="max",
)
INGESTED = Counter("ezhr_ingestion_documents_total", "Documents indexed or failed.", ["outcome"])
INGESTION_FAILURES = Counter(
    "ezhr_ingestion_failures_total", "Documents whose indexing failed, by code.", ["code"]
)
HTTP_REQUESTS = Counter(
    "ezhr_http_requests_total", "HTTP requests by method and status class.", ["method", "status"]
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and their content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
