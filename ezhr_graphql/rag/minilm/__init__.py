"""The local embedding model, all-MiniLM-L6-v2, run in-process with no network.

- :mod:`.files`: the packaged configuration, tokenizer and weights.
- :mod:`.encoder`: :class:`MiniLMEncoder`, texts in, unit-length vectors out
  (tokenising, batching by length, pooling).
- :mod:`.onnx_runtime`: the encoder on ONNX Runtime, from a graph built at load time.
- :mod:`.numpy_runtime`: the same encoder in NumPy, the reference and the fallback.
"""

from ezhr_graphql.rag.minilm.encoder import RUNTIMES, MiniLMEncoder, Runtime, resolve_runtime
from ezhr_graphql.rag.minilm.files import model_directory

__all__ = ["RUNTIMES", "MiniLMEncoder", "Runtime", "model_directory", "resolve_runtime"]
