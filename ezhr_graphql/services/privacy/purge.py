"""The one routine that removes conversations for real (see the package's doc)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ezhr_graphql.db import Database
from ezhr_graphql.pubsub import Broker, BrokerUnavailable
from ezhr_graphql.repositories.purge import PURGE_BATCH, Purged, PurgeRepository
from ezhr_graphql.services.replies.streams import stream_name

logger = logging.getLogger(__name__)


@dataclass
class Removed:
    """How many of each thing a purge removed: all that is left of it."""

    sessions: int = 0
    messages: int = 0
    feedback: int = 0
    folders: int = 0
    streams: int = 0

    def add(self, purged: Purged) -> None:
        self.sessions += purged.sessions
        self.messages += purged.messages
        self.feedback += purged.feedback

    def details(self) -> dict[str, int]:
        return asdict(self)


class ConversationPurge:
    """Removes sessions with their messages, the rows depending on them, and (once
    their transaction has committed) their reply streams."""

    def __init__(self, broker: Broker, db: Database | None = None) -> None:
        self.broker = broker
        self.db = db

    async def scrub(self) -> None:
        """Once removed rows are committed: empty SQLite's write-ahead log, which
        still holds the pages they were written in (the database file itself
        overwrites what is deleted). A reader in the way leaves it to the next
        removal, with a warning."""
        if self.db is not None and not await self.db.checkpoint(truncate=True):
            logger.warning("the write-ahead log still holds removed pages: a reader is open")

    async def sessions(self, rows: PurgeRepository, ids: Sequence[uuid.UUID]) -> Purged:
        """Remove the sessions ``ids`` in the transaction of ``rows``, a batch at a
        time. The streams of their messages are the caller's to remove after the
        commit (:meth:`streams`): a rollback must leave the conversation whole."""
        purged = Purged()
        for start in range(0, len(ids), PURGE_BATCH):
            purged.add(await rows.sessions(ids[start : start + PURGE_BATCH]))
        return purged

    async def streams(self, message_ids: Sequence[uuid.UUID]) -> int:
        """Remove the reply streams of ``message_ids``; how many there were. A broker
        out of reach leaves them to expire (a warning says how many)."""
        names = [stream_name(message_id) for message_id in message_ids]
        if not names:
            return 0
        try:
            return await self.broker.delete(names)
        except BrokerUnavailable:
            logger.warning(
                "could not remove %d reply streams: the broker is out of reach", len(names)
            )
            return 0
