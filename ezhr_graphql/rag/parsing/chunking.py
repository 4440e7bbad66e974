"""Cutting parsed documents into chunks for embedding.

Every section is split on its own with LlamaIndex's ``SentenceSplitter``, so a chunk
never spans two headings or two pages and keeps its section's heading path and page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ezhr_graphql.rag.parsing.types import Chunk, ParsedDocument

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

_tokenizer_lock = threading.Lock()


def _tokenizer() -> Callable[[str], Sequence[Any]]:
    """LlamaIndex's tokenizer: tiktoken ``cl100k_base`` read from the cache bundled in
    llama-index-core (``llama_index/core/_static/tiktoken_cache``), so nothing is
    downloaded. Initialised under a lock because LlamaIndex points tiktoken at that cache
    through a temporary environment variable."""
    from llama_index.core.utils import get_tokenizer

    with _tokenizer_lock:
        return get_tokenizer()


# A sentence ends at terminal punctuation (and any closing quotes or brackets) followed by
# whitespace; a line break also ends a unit (list items, table rows, PDF lines).
_SENTENCE_END_RE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019\u00bb)\]]*\s+|\n\s*")


def _split_sentences(text: str) -> list[str]:
    """Sentence splitter for ``SentenceSplitter``: pieces that concatenate back to ``text``.

    It replaces LlamaIndex's default, NLTK's English Punkt model, which is of little use on
    Vietnamese and reads its data files through NLTK's path guard, which refuses the
    hard-linked files that uv installs from its cache.
    """
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=_tokenizer(),
        chunking_tokenizer_fn=_split_sentences,
    )


def chunk_document(
    doc: ParsedDocument, *, chunk_size: int = 512, chunk_overlap: int = 64
) -> list[Chunk]:
    """Split every section on its own (chunks never cross a heading or a page) into chunks
    of at most ``chunk_size`` tokens, consecutive chunks sharing about ``chunk_overlap``."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_overlap must be at least 0 and smaller than chunk_size")
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for section in doc.sections:
        for piece in splitter.split_text(section.text):
            text = piece.strip()
            if text:
                chunks.append(
                    Chunk(
                        text=text,
                        heading_path=section.heading_path,
                        page=section.page,
                        ordinal=len(chunks),
                    )
                )
    return chunks
