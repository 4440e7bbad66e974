"""All-MiniLM-L6-v2's BERT encoder in NumPy: the reference runtime.

It computes what sentence-transformers computes with PyTorch, in float32: the
embeddings, six encoder layers with the exact GELU, and the last hidden state. The
ONNX runtime (:mod:`.onnx_runtime`) is checked against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from ezhr_graphql.rag.minilm.files import BoolArray, FloatArray, IntArray, ModelShape, Weights

# Abramowitz & Stegun 7.1.26: for z >= 0, erfc(z) ~= t * (a1 + t * (a2 + ...)) * exp(-z^2)
# with t = 1 / (1 + p * z), to within 1.5e-7, about float32's own rounding. GELU takes
# z = |x| / sqrt(2) and halves erfc, so both factors are folded into the constants.
_ERFC_P: Final = 0.3275911
_ERFC_A: Final = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_GELU_T: Final = np.float32(_ERFC_P / math.sqrt(2.0))
_GELU_POLY: Final = tuple(np.float32(a / 2.0) for a in _ERFC_A)
_GELU_BLOCK: Final = 1 << 17  # elements per block of the GELU's temporaries


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


class NumpyTransformer:
    """The encoder's last hidden state for batches of token ids.

    Everything it holds is read-only once built, so one instance can serve several
    threads at once; NumPy releases the GIL inside the matrix products, but holds it
    between them.
    """

    name = "numpy"

    def __init__(self, shape: ModelShape, weights: Weights) -> None:
        self._hidden = shape.hidden
        self._heads = shape.heads
        self._head_dim = shape.head_dim
        self._eps = shape.eps
        self._load_weights(weights, shape.layers)

    def hidden_states(self, ids: IntArray, type_ids: IntArray, mask: BoolArray) -> FloatArray:
        """The last hidden state, shape (batch, width, hidden); ``mask`` marks the real
        tokens of each row (the rest is padding)."""
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

    def _load_weights(self, weights: Weights, layer_count: int) -> None:
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
