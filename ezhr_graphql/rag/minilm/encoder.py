"""Sentence embeddings from all-MiniLM-L6-v2, computed in-process.

The same pipeline as sentence-transformers runs for that model: word-piece
tokenisation cut to ``max_seq_length``, the six-layer BERT encoder, mean pooling over
the real (non-padding) tokens and L2 normalisation, all in float32. The encoder itself
runs on ONNX Runtime when it is installed, else on NumPy; both read the same packaged
weights and give the same vectors to float32 rounding.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources.abc import Traversable
from typing import Final, Literal, Protocol

import numpy as np
from tokenizers import Encoding

from ezhr_graphql.rag.minilm.files import (
    BoolArray,
    FloatArray,
    IntArray,
    model_directory,
    read_shape,
    read_tokenizers,
    read_weights,
)
from ezhr_graphql.rag.minilm.numpy_runtime import NumpyTransformer
from ezhr_graphql.rag.minilm.onnx_runtime import OnnxTransformer, onnx_available

Runtime = Literal["auto", "onnx", "numpy"]
RUNTIMES: Final[tuple[Runtime, ...]] = ("auto", "onnx", "numpy")

# A batch takes texts of similar length: the next text joins only while the padding
# this adds stays within this share of the batch's real tokens. Padding is computed
# like real tokens, and a document's chunks run from a few words to the full 256.
PADDING_ALLOWANCE: Final = 0.125


def resolve_runtime(runtime: Runtime) -> Runtime:
    """The runtime ``runtime`` stands for: ``auto`` is ``onnx`` when ONNX Runtime is
    installed, else ``numpy``.

    Raises:
        ValueError: an unknown runtime.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}")
    if runtime == "auto":
        return "onnx" if onnx_available() else "numpy"
    return runtime


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system tells)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Transformer(Protocol):
    name: str

    def hidden_states(self, ids: IntArray, type_ids: IntArray, mask: BoolArray) -> FloatArray:
        """The last hidden state, shape (batch, width, hidden)."""
        ...


class MiniLMEncoder:
    """Embeds texts as unit-length float32 vectors of :attr:`dimension` numbers.

    Everything it holds is read-only once built, so one instance can serve several
    threads at once.
    """

    def __init__(self, model_dir: Traversable, runtime: Runtime = "auto", threads: int = 0) -> None:
        """``runtime``: ``onnx`` or ``numpy``; ``auto`` takes ONNX Runtime when it is
        installed. ``threads``: how many batches ONNX Runtime encodes side by side (0:
        one per core this process may use); NumPy encodes one at a time, each matrix
        product on its BLAS's own threads.

        Raises:
            ValueError: an unknown runtime, or model files of another kind of model.
            ImportError: ``onnx`` asked for but not installed.
        """
        shape = read_shape(model_dir)
        self._hidden = shape.hidden
        self._max_tokens = shape.max_tokens
        self._counter, self._tokenizer = read_tokenizers(model_dir, shape.max_tokens)
        self._transformer: Transformer
        if resolve_runtime(runtime) == "onnx":
            self._transformer = OnnxTransformer(shape, model_dir)
            self._threads = threads or usable_cores()
        else:
            self._transformer = NumpyTransformer(shape, read_weights(model_dir))
            self._threads = 1

    @classmethod
    def load(cls, runtime: Runtime = "auto", threads: int = 0) -> MiniLMEncoder:
        """The encoder over the packaged model files."""
        return cls(model_directory(), runtime, threads)

    @property
    def runtime(self) -> str:
        """What runs the encoder: ``onnx`` or ``numpy``."""
        return self._transformer.name

    @property
    def dimension(self) -> int:
        """Length of every embedding (384)."""
        return self._hidden

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads per text, [CLS] and [SEP] included; the rest is cut."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens in ``text`` with [CLS] and [SEP], before any truncation.

        ``text`` is embedded whole exactly when this is at most :attr:`max_tokens`.
        """
        return len(self._counter.encode(text).ids)

    def encode(
        self, texts: Sequence[str], batch_size: int = 32, padding: float = PADDING_ALLOWANCE
    ) -> FloatArray:
        """One unit-norm row per text, in the order given; shape (len(texts), dimension).
        At most ``batch_size`` texts of similar length go through the encoder together,
        padded by at most ``padding`` of their real tokens (``math.inf``: any); batches
        run side by side on this thread and threads it starts (see ``threads``)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        result = np.zeros((len(texts), self._hidden), dtype=np.float32)
        if not texts:
            return result
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = [len(encoding.ids) for encoding in encodings]
        # At least a batch per thread, the biggest first: side by side, they end
        # about together.
        per_batch = min(batch_size, -(-len(texts) // self._threads))
        batches = sorted(
            similar_lengths(lengths, per_batch, padding),
            key=lambda batch: len(batch) * lengths[batch[-1]],
            reverse=True,
        )
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    if not batches:
                        return
                    chosen = batches.pop(0)
                result[chosen] = self._embed_batch([encodings[i] for i in chosen])

        helpers = min(self._threads, len(batches)) - 1
        if helpers < 1:
            work()
            return result
        # Threads started here share this thread's CPU priority (rag.threads).
        with ThreadPoolExecutor(helpers, thread_name_prefix="minilm") as pool:
            started = [pool.submit(work) for _ in range(helpers)]
            work()
            for future in started:
                future.result()
        return result

    def _embed_batch(self, encodings: Sequence[Encoding]) -> FloatArray:
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        width = int(lengths.max())
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        type_ids = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : lengths[row]] = encoding.ids
            type_ids[row, : lengths[row]] = encoding.type_ids
        mask = np.arange(width)[None, :] < lengths[:, None]
        hidden = self._transformer.hidden_states(ids, type_ids, mask)
        # Mean over the real tokens, then scale to unit length.
        pooled: FloatArray = np.einsum("bld,bl->bd", hidden, mask.astype(np.float32))
        pooled /= np.maximum(lengths[:, None].astype(np.float32), np.float32(1e-9))
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled


def similar_lengths(
    lengths: Sequence[int], batch_size: int, padding: float = PADDING_ALLOWANCE
) -> Iterator[list[int]]:
    """Indices of ``lengths`` in batches of at most ``batch_size``, shortest first, each
    padded to its longest by at most ``padding`` of its real tokens (a batch of one is
    never padded)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    real = 0
    for index in order:
        length = lengths[index]  # the longest yet: the batch pads to it
        padded = length * (len(batch) + 1)
        if batch and (len(batch) == batch_size or padded > (real + length) * (1 + padding)):
            yield batch
            batch, real = [], 0
        batch.append(index)
        real += length
    if batch:
        yield batch
