"""Streams of chat events and signals between processes.

In-process by default; Redis (Streams for replay, pub/sub for live events and
signals) when ``EZHR_REDIS_URL`` is set, so several workers or hosts act as one.
"""

from ezhr_graphql.pubsub.broker import (
    TERMINAL,
    Broker,
    BrokerUnavailable,
    StreamEvent,
    StreamLost,
    Subscription,
)
from ezhr_graphql.pubsub.memory import MemoryBroker

__all__ = [
    "TERMINAL",
    "Broker",
    "BrokerUnavailable",
    "MemoryBroker",
    "StreamEvent",
    "StreamLost",
    "Subscription",
]
