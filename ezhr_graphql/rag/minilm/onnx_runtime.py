"""All-MiniLM-L6-v2's BERT encoder run by ONNX Runtime, from the same packaged weights.

The graph is built in memory when the model loads, with ``onnx``'s helper API, from
the tensors of ``model.safetensors``: no model file is downloaded or written. Each
layer uses ONNX Runtime's fused CPU kernels (``Attention``, ``SkipLayerNormalization``,
``BiasGelu``, the exact erf GELU), which run with the GIL released. Its output matches
:mod:`.numpy_runtime` to float32 rounding.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any, Final

import numpy as np

from ezhr_graphql.rag.minilm.files import (
    BoolArray,
    FloatArray,
    IntArray,
    ModelShape,
    Weights,
    read_weights,
)

OPSET: Final = 17  # LayerNormalization is standard from 17 on
MICROSOFT: Final = "com.microsoft"  # ONNX Runtime's own (contrib) operators
INPUTS: Final = ("input_ids", "token_type_ids", "attention_mask")


def onnx_available() -> bool:
    """Whether ``onnx`` and ``onnxruntime`` are installed (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


class OnnxTransformer:
    """The encoder's last hidden state for batches of token ids.

    One ONNX Runtime session, safe to run from several threads at once. Each run
    computes on the thread that calls it, alone: :class:`~.encoder.MiniLMEncoder` runs
    batches side by side instead. Threads of one run would wait for each other at every
    operator, and so for the slowest of them when other work holds a core (or runs at
    another priority, see :mod:`ezhr_graphql.rag.threads`).
    """

    name = "onnx"

    def __init__(self, shape: ModelShape, model_dir: Traversable) -> None:
        import onnxruntime

        graph = build_graph(shape, read_weights(model_dir))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its notes on fusions are not ours
        # The weights go in as they are, not serialised into the graph (which would
        # hold two more copies of them while the session loads); it copies them.
        names = list(graph.weights)
        values = [onnxruntime.OrtValue.ortvalue_from_numpy(graph.weights[n]) for n in names]
        options.add_external_initializers(names, values)
        self._session = onnxruntime.InferenceSession(
            graph.model, options, providers=["CPUExecutionProvider"]
        )

    def hidden_states(self, ids: IntArray, type_ids: IntArray, mask: BoolArray) -> FloatArray:
        """The last hidden state, shape (batch, width, hidden); ``mask`` marks the real
        tokens of each row (the rest is padding)."""
        feed = {
            "input_ids": np.ascontiguousarray(ids, dtype=np.int64),
            "token_type_ids": np.ascontiguousarray(type_ids, dtype=np.int64),
            "attention_mask": mask.astype(np.int32),
        }
        outputs = self._session.run(None, feed)
        hidden: FloatArray = np.asarray(outputs[0], dtype=np.float32)
        return hidden


@dataclass(frozen=True, slots=True)
class Graph:
    """A serialised ONNX model whose weights are external: each is named in the model
    and held here, to be given to the session."""

    model: bytes
    weights: dict[str, FloatArray]


class _Builder:
    """Collects the nodes and initializers of the graph being built."""

    def __init__(self, weights: Weights) -> None:
        from onnx import TensorProto, helper, numpy_helper

        self.tensor_proto = TensorProto
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.source = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.weights: dict[str, FloatArray] = {}

    def constant(self, name: str, array: np.ndarray[Any, Any]) -> str:
        """A small constant, written into the graph."""
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def weight(self, name: str, array: FloatArray) -> str:
        """A weight, named in the graph as external data and kept aside."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        proto = self.tensor_proto(
            name=name,
            data_type=self.tensor_proto.FLOAT,
            dims=array.shape,
            data_location=self.tensor_proto.EXTERNAL,
        )
        # Never read: the session takes the array itself (add_external_initializers).
        for key, value in (("location", "in-memory"), ("length", str(array.nbytes))):
            entry = proto.external_data.add()
            entry.key, entry.value = key, value
        self.initializers.append(proto)
        self.weights[name] = array
        return name

    def tensor(self, name: str, transpose: bool = False) -> str:
        """The model's weight ``name``; a dense layer's matrix transposed to (inputs,
        outputs) for MatMul."""
        array = self.source[name]
        return self.weight(name, array.T if transpose else array)

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        domain = attributes.pop("domain", "")
        self.nodes.append(
            self.helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes)
        )
        return output


def build_graph(shape: ModelShape, weights: Weights) -> Graph:
    """The ONNX model: token ids, token type ids and the attention mask in, the last
    hidden state (batch, width, hidden) out."""
    from onnx import TensorProto, helper

    graph = _Builder(weights)
    x = _embeddings(graph, shape)
    for index in range(shape.layers):
        x = _layer(graph, shape, index, x)
    inputs = [
        helper.make_tensor_value_info(
            name,
            TensorProto.INT32 if name == "attention_mask" else TensorProto.INT64,
            ["batch", "width"],
        )
        for name in INPUTS
    ]
    output = helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", "width", shape.hidden])
    model = helper.make_model(
        helper.make_graph(graph.nodes, "all-MiniLM-L6-v2", inputs, [output], graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MICROSOFT, 1)],
        producer_name="ezhr-graphql",
    )
    return Graph(model.SerializeToString(), graph.weights)


def _embeddings(graph: _Builder, shape: ModelShape) -> str:
    """Word, position and token type embeddings, summed and normalised."""
    prefix = "embeddings."
    zero = graph.constant("zero", np.array([0], dtype=np.int64))
    one = graph.constant("one", np.array([1], dtype=np.int64))
    dims = graph.node("Shape", ["input_ids"], "input_shape")
    width = graph.node("Gather", [dims, one], "width", axis=0)
    positions = graph.node(
        "Slice",
        [graph.tensor(f"{prefix}position_embeddings.weight"), zero, width, zero],
        "positions",
    )
    words = graph.node(
        "Gather", [graph.tensor(f"{prefix}word_embeddings.weight"), "input_ids"], "words"
    )
    types = graph.node(
        "Gather",
        [graph.tensor(f"{prefix}token_type_embeddings.weight"), "token_type_ids"],
        "types",
    )
    summed = graph.node("Add", [graph.node("Add", [words, positions], "placed"), types], "summed")
    scale, shift = (graph.tensor(f"{prefix}LayerNorm.{name}") for name in ("weight", "bias"))
    return graph.node(
        "LayerNormalization",
        [summed, scale, shift],
        "embedded",
        axis=-1,
        epsilon=shape.eps,
    )


def _layer(graph: _Builder, shape: ModelShape, index: int, x: str) -> str:
    """One encoder layer: self-attention, then the feed-forward block, each added to
    its input and normalised."""
    prefix = f"encoder.layer.{index}."
    part = f"{prefix}attention.self."
    weights = graph.source
    # Query, key and value side by side, as the Attention operator takes them; it
    # scales the scores by 1 / sqrt(head_dim) itself.
    qkv_weight = np.concatenate(
        [weights[f"{part}{name}.weight"].T for name in ("query", "key", "value")], axis=1
    )
    qkv_bias = np.concatenate([weights[f"{part}{name}.bias"] for name in ("query", "key", "value")])
    attended = graph.node(
        "Attention",
        [
            x,
            graph.weight(f"{part}qkv.weight", qkv_weight),
            graph.weight(f"{part}qkv.bias", qkv_bias),
            "attention_mask",
        ],
        f"{prefix}attended",
        domain=MICROSOFT,
        num_heads=shape.heads,
    )
    dense = f"{prefix}attention.output."
    projected = graph.node(
        "MatMul", [attended, graph.tensor(f"{dense}dense.weight", True)], f"{prefix}projected"
    )
    x = _add_and_normalise(graph, shape, projected, x, dense)
    inner = graph.node(
        "MatMul",
        [x, graph.tensor(f"{prefix}intermediate.dense.weight", True)],
        f"{prefix}inner",
    )
    activated = graph.node(
        "BiasGelu",
        [inner, graph.tensor(f"{prefix}intermediate.dense.bias")],
        f"{prefix}activated",
        domain=MICROSOFT,
    )
    out = graph.node(
        "MatMul", [activated, graph.tensor(f"{prefix}output.dense.weight", True)], f"{prefix}out"
    )
    return _add_and_normalise(graph, shape, out, x, f"{prefix}output.")


def _add_and_normalise(graph: _Builder, shape: ModelShape, value: str, skip: str, part: str) -> str:
    """LayerNorm(value + dense bias + skip), fused: the dense layer's bias and the
    residual are added inside the normalisation kernel."""
    return graph.node(
        "SkipLayerNormalization",
        [
            value,
            skip,
            graph.tensor(f"{part}LayerNorm.weight"),
            graph.tensor(f"{part}LayerNorm.bias"),
            graph.tensor(f"{part}dense.bias"),
        ],
        f"{part}normalised",
        domain=MICROSOFT,
        epsilon=shape.eps,
    )
