"""The unit of ingestion work, and the channel a document's progress is heard on.

An :class:`IngestJob` is small and plain so that it can travel through any queue (the
Redis one stores it as a dict); :func:`progress_channel` names the broker channel that
``ingestionProgress`` follows for one document.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ezhr_graphql.models import Document, DocumentStatus

logger = logging.getLogger(__name__)

TERMINAL = (DocumentStatus.READY, DocumentStatus.FAILED)


def progress_channel(document_id: uuid.UUID) -> str:
    return f"ingest:{document_id}"


@dataclass(frozen=True, slots=True)
class IngestJob:
    """One unit of ingestion work, small enough to travel through a queue."""

    kind: Literal["document", "collection"]
    target_id: str
    revision: int = 0  # documents: the revision the job indexes
    embedding_model_id: str | None = None  # collections: the model to re-embed with

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target_id}:{self.revision}:{self.embedding_model_id or ''}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IngestJob:
        return cls(
            kind=raw["kind"],
            target_id=str(raw["target_id"]),
            revision=int(raw.get("revision", 0)),
            embedding_model_id=raw.get("embedding_model_id"),
        )

    @classmethod
    def document(cls, row: Document) -> IngestJob:
        return cls("document", str(row.id), row.revision)

    @classmethod
    def reembed(cls, collection_id: uuid.UUID, model_id: uuid.UUID) -> IngestJob:
        return cls("collection", str(collection_id), 0, str(model_id))


async def run_logged(run: Callable[[IngestJob], Awaitable[None]], job: IngestJob) -> None:
    """``run(job)``, a failure logged rather than raised: whoever works through jobs
    goes on with the next."""
    try:
        await run(job)
    except Exception:
        logger.exception("ingestion job %s failed", job.kind)
