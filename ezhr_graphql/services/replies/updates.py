"""Changes to a user's sessions, told to every tab of that user wherever it is
connected: a session's generated title, a reply's new status. Typed here, carried as
JSON-ready signals on the user's channel of the broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ezhr_graphql.models import MessageStatus
from ezhr_graphql.pubsub import Broker, BrokerUnavailable


def user_channel(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class TitleChanged:
    session_id: uuid.UUID
    title: str


@dataclass(frozen=True, slots=True)
class StatusChanged:
    session_id: uuid.UUID
    message_id: uuid.UUID
    status: MessageStatus


SessionUpdate = TitleChanged | StatusChanged


def encode(update: SessionUpdate) -> dict[str, Any]:
    if isinstance(update, TitleChanged):
        return {"type": "title", "session_id": str(update.session_id), "title": update.title}
    return {
        "type": "status",
        "session_id": str(update.session_id),
        "message_id": str(update.message_id),
        "status": update.status.value,
    }


def decode(signal: dict[str, Any]) -> SessionUpdate | None:
    """The update a signal carries; ``None`` for one that is not an update (or is
    malformed): a subscriber skips it."""
    try:
        # Signals sent before this format spelled their fields in camelCase.
        session_id = uuid.UUID(signal.get("session_id") or signal["sessionId"])
        if signal.get("type") == "title":
            return TitleChanged(session_id, str(signal["title"]))
        if signal.get("type") == "status":
            message_id = uuid.UUID(signal.get("message_id") or signal["messageId"])
            return StatusChanged(session_id, message_id, MessageStatus(signal["status"]))
    except (KeyError, TypeError, ValueError):
        return None
    return None


class SessionUpdates:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def publish(self, user_id: uuid.UUID, update: SessionUpdate) -> None:
        """Tell the user's tabs; lost if the broker is out of reach (it is news: the
        database holds the outcome)."""
        try:
            await self.broker.publish(user_channel(user_id), encode(update))
        except BrokerUnavailable:
            return

    async def follow(self, user_id: uuid.UUID) -> AsyncIterator[SessionUpdate]:
        """The user's updates from now on, until the caller stops iterating."""
        signals = await self.broker.subscribe(user_channel(user_id))
        try:
            async for signal in signals:
                update = decode(signal)
                if update is not None:
                    yield update
        finally:
            await signals.aclose()
