"""Ingestion: a stored document becomes chunks and vectors, off the request path.

- :mod:`.jobs`: the unit of work (:class:`IngestJob`) and a document's progress channel.
- :mod:`.queue`: where jobs wait (:class:`IngestionQueue`, :class:`LocalIngestionQueue`).
- :mod:`.pipeline`: :class:`Ingestion`, which runs jobs; a document's path is parsed
  (:mod:`.chunks`), embedded (:mod:`.embedding`) and swapped in, and reports its
  progress (:mod:`.progress`, which also follows it for subscribers).
- :mod:`.reembed`: moving a collection to another embedding model.
"""

from ezhr_graphql.services.ingestion.chunks import parse_and_chunk
from ezhr_graphql.services.ingestion.embedding import embedding_spec, embedding_text
from ezhr_graphql.services.ingestion.jobs import TERMINAL, IngestJob, progress_channel
from ezhr_graphql.services.ingestion.pipeline import Ingestion
from ezhr_graphql.services.ingestion.progress import Progress, ProgressFollower
from ezhr_graphql.services.ingestion.queue import IngestionQueue, LocalIngestionQueue

__all__ = [
    "TERMINAL",
    "IngestJob",
    "Ingestion",
    "IngestionQueue",
    "LocalIngestionQueue",
    "Progress",
    "ProgressFollower",
    "embedding_spec",
    "embedding_text",
    "parse_and_chunk",
    "progress_channel",
]
