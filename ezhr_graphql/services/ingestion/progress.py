"""What a document's ingestion reports, and where it goes.

Each step is written to the document's row (the status a query shows), and only while
the run's revision is current, then published on the broker channel of
:func:`progress_channel` (what ``ingestionProgress`` follows). Publishing is best
effort: the row holds the truth.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from ezhr_graphql.db import Database, utcnow
from ezhr_graphql.errors import NotFoundError
from ezhr_graphql.models import Document, DocumentStatus
from ezhr_graphql.observe.metrics import INGESTED, INGESTION_FAILURES
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.repositories.knowledge import DocumentRepository
from ezhr_graphql.services.ingestion.jobs import TERMINAL, progress_channel

logger = logging.getLogger(__name__)


class Failed(Exception):
    """Why a document cannot be indexed: a code, and a reason an admin may read."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    # A value as much as an exception: progress carrying it compares by what it says.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Failed):
            return NotImplemented
        return (self.code, self.reason) == (other.code, other.reason)

    def __hash__(self) -> int:
        return hash((self.code, self.reason))


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a document's ingestion stands: ``done`` of ``total`` chunks, and why it
    failed when ``status`` is ``FAILED``."""

    status: DocumentStatus
    done: int = 0
    total: int = 0
    error: Failed | None = None

    def columns(self) -> dict[str, Any]:
        """The document row's values for this state."""
        values: dict[str, Any] = {
            "status": self.status,
            "chunks_done": self.done,
            "chunks_total": self.total,
        }
        if self.status is not DocumentStatus.FAILED:
            values.update(error_code=None, error_reason=None)
        else:
            assert self.error is not None
            values.update(error_code=self.error.code, error_reason=self.error.reason)
        return values

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def encode(self) -> dict[str, Any]:
        """What subscribers of the document's channel receive (JSON-ready)."""
        return {
            "status": self.status.value,
            "done": self.done,
            "total": self.total,
            "error_code": self.error.code if self.error else None,
            "error_reason": self.error.reason if self.error else None,
        }

    @classmethod
    def decode(cls, data: dict[str, Any]) -> Progress | None:
        """The progress a signal carries; ``None`` for a malformed one."""
        try:
            status = DocumentStatus(data["status"])
            code, reason = data.get("error_code"), data.get("error_reason")
            error = Failed(str(code), str(reason or "")) if code else None
            return cls(status, int(data.get("done", 0)), int(data.get("total", 0)), error)
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def of(cls, document: Document) -> Progress:
        """Where the document's row says its ingestion stands."""
        error = None
        if document.error_code:
            error = Failed(document.error_code, document.error_reason or "")
        return cls(document.status, document.chunks_done, document.chunks_total, error)


class ProgressReporter:
    """Records a run's progress on its document and publishes it."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker

    async def record(self, document_id: uuid.UUID, revision: int, progress: Progress) -> None:
        """Write ``progress`` to the document if ``revision`` is still its current one,
        then count and publish it; a superseded run changes nothing."""
        values = progress.columns()
        async with self.db.transaction() as session:
            # Only the current revision reports: a superseded run stays quiet.
            result = await session.execute(
                update(Document)
                .where(Document.id == document_id, Document.revision == revision)
                .values(**values, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        if getattr(result, "rowcount", 0) == 1:
            _count(progress)
            await self.publish(document_id, progress)

    async def publish(self, document_id: uuid.UUID, progress: Progress) -> None:
        try:
            await self.broker.publish(progress_channel(document_id), progress.encode())
        except Exception:  # progress is best effort; the row holds the truth
            logger.warning("could not publish ingestion progress", exc_info=True)


def _count(progress: Progress) -> None:
    if progress.status is DocumentStatus.READY:
        INGESTED.labels("ready").inc()
    elif progress.status is DocumentStatus.FAILED and progress.error is not None:
        INGESTED.labels("failed").inc()
        INGESTION_FAILURES.labels(progress.error.code).inc()


class ProgressFollower:
    """Follows a document's ingestion for subscribers."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker

    async def follow(self, document_id: uuid.UUID) -> AsyncIterator[Progress]:
        """Where the document stands now, then each step, until READY or FAILED (a
        deleted document ends FAILED with ``DELETED``).

        Raises:
            NotFoundError: no such document.
        """
        # Listen first, then read the row: nothing published in between is missed.
        signals = await self.broker.subscribe(progress_channel(document_id))
        try:
            async with self.db.read() as session:
                row = await DocumentRepository.from_session(session).get(document_id)
            if row is None:
                raise NotFoundError("Document", document_id)
            current = Progress.of(row)
            yield current
            if current.terminal:
                return
            async for signal in signals:
                progress = Progress.decode(signal)
                if progress is None:
                    continue
                yield progress
                if progress.terminal:
                    return
        finally:
            await signals.aclose()
