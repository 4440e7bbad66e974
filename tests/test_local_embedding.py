"""The local all-MiniLM-L6-v2 encoder on each of its runtimes (ONNX Runtime and NumPy),
checked against sentence-transformers' own output and against reference vectors."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ezhr_graphql.rag.minilm import MiniLMEncoder, resolve_runtime
from ezhr_graphql.rag.minilm.encoder import PADDING_ALLOWANCE, similar_lengths

# Vectors of the NumPy encoder as it stood before ONNX Runtime came in, one text at a
# time (see tests/fixtures/README.md): whatever runs the model must keep their meaning.
REFERENCE_VECTORS = Path(__file__).resolve().parent / "fixtures" / "minilm-reference.json"
# Cosine between a vector and its reference: float32 rounding gives about 1 - 1e-7.
SAME_MEANING = 0.9999

LEAVE_QUESTION = "How many days of annual leave do I get?"
VIETNAMESE = "Nhân viên được nghỉ phép năm 12 ngày có hưởng lương."
LONG = "Section 1: employees accrue annual leave. " * 80  # 802 tokens, cut to 256

# The first dimensions of each embedding as sentence-transformers computes them with
# PyTorch from the same packaged model files.
REFERENCE = {
    LEAVE_QUESTION: [0.0970, 0.0351, 0.0226, 0.0729, 0.0451, 0.0042, -0.0302, -0.0408],
    VIETNAMESE: [-0.0989, 0.1120, -0.0037, -0.0110, -0.0325, 0.0388, 0.0359, 0.0111],
    LONG: [0.0349, 0.0291, 0.0629, 0.0444, 0.0288, 0.0687, -0.0468, -0.0896],
}


@pytest.fixture(scope="module", params=["onnx", "numpy"])
def encoder(request: pytest.FixtureRequest) -> MiniLMEncoder:
    return MiniLMEncoder.load(request.param)


def reference() -> tuple[list[str], np.ndarray]:
    data = json.loads(REFERENCE_VECTORS.read_text(encoding="utf-8"))
    return data["texts"], np.array(data["vectors"], dtype=np.float32)


def test_vectors_keep_their_meaning(encoder: MiniLMEncoder) -> None:
    texts, expected = reference()
    assert len(texts) >= 8
    # Together (batched by length, padded) and one at a time.
    for vectors in (encoder.encode(texts), encoder.encode(texts, batch_size=1)):
        cosines = np.sum(vectors * expected, axis=1)
        assert cosines.min() >= SAME_MEANING, dict(zip(texts, cosines.tolist(), strict=True))
        np.testing.assert_allclose(vectors, expected, atol=1e-4)


def test_batches_side_by_side_give_what_one_at_a_time_gives() -> None:
    texts, expected = reference()
    side_by_side = MiniLMEncoder.load("onnx", threads=3).encode(texts, batch_size=2)
    one_at_a_time = MiniLMEncoder.load("onnx", threads=1).encode(texts, batch_size=2)
    np.testing.assert_allclose(side_by_side, one_at_a_time, atol=1e-6)
    np.testing.assert_allclose(side_by_side, expected, atol=1e-4)


def test_the_runtimes_agree() -> None:
    texts, _ = reference()
    onnx, numpy = MiniLMEncoder.load("onnx"), MiniLMEncoder.load("numpy")
    assert (onnx.runtime, numpy.runtime) == ("onnx", "numpy")
    cosines = np.sum(onnx.encode(texts) * numpy.encode(texts), axis=1)
    assert cosines.min() >= SAME_MEANING


def test_auto_takes_onnx_runtime_when_installed() -> None:
    assert resolve_runtime("auto") == "onnx"
    assert resolve_runtime("numpy") == "numpy"
    with pytest.raises(ValueError, match="unknown runtime"):
        resolve_runtime("torch")  # type: ignore[arg-type]


def test_batches_take_texts_of_similar_length() -> None:
    lengths = [256, 12, 250, 14, 256, 13, 100, 2]
    batches = list(similar_lengths(lengths, batch_size=3))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches == [[7], [1, 5, 3], [6], [2, 0, 4]]
    for batch in batches:
        real = sum(lengths[i] for i in batch)
        assert max(lengths[i] for i in batch) * len(batch) <= real * (1 + PADDING_ALLOWANCE)
    assert list(similar_lengths([5] * 5, batch_size=2)) == [[0, 1], [2, 3], [4]]
    # Any padding: sorted by length, cut every batch_size texts.
    assert list(similar_lengths(lengths, 3, math.inf)) == [[7, 1, 5], [3, 6, 2], [0, 4]]


def test_matches_sentence_transformers(encoder: MiniLMEncoder) -> None:
    texts = list(REFERENCE)
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), 384)
    assert vectors.dtype == np.float32
    for text, vector in zip(texts, vectors, strict=True):
        expected = REFERENCE[text]
        np.testing.assert_allclose(vector[: len(expected)], expected, atol=1e-3, err_msg=text)


def test_describes_the_model(encoder: MiniLMEncoder) -> None:
    assert encoder.dimension == 384
    assert encoder.max_tokens == 256
    assert encoder.count_tokens("") == 2  # [CLS] and [SEP]
    assert encoder.count_tokens(LEAVE_QUESTION) == 12
    assert encoder.count_tokens(LONG) == 802  # counted whole, not truncated


def test_rows_have_unit_length(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(["", "a", LEAVE_QUESTION, VIETNAMESE, LONG, "  \t\n "])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_leave_question_is_closest_to_the_leave_policy(encoder: MiniLMEncoder) -> None:
    policy = "Employees are entitled to 20 days of paid annual leave per year."
    unrelated = "The cafeteria serves lunch between noon and 2 pm."
    question, on_topic, off_topic = encoder.encode([LEAVE_QUESTION, policy, unrelated])
    assert float(question @ on_topic) > float(question @ off_topic) + 0.2


def test_rows_come_back_in_input_order(encoder: MiniLMEncoder) -> None:
    texts = [LONG, "a", VIETNAMESE, "", LEAVE_QUESTION, "Parental leave lasts 16 weeks." * 5]
    together = encoder.encode(texts, batch_size=2)
    one_by_one = np.vstack([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_text_past_max_tokens_is_cut(encoder: MiniLMEncoder) -> None:
    long, longer = encoder.encode([LONG, LONG + " Unrelated words about the office canteen."])
    np.testing.assert_allclose(long, longer, atol=1e-6)
    short = LEAVE_QUESTION
    plain, extended = encoder.encode([short, short + " Unrelated words about the canteen."])
    assert float(plain @ extended) < 0.99


def test_no_texts_give_no_rows(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_rejects_a_bare_string_and_bad_batch_sizes(encoder: MiniLMEncoder) -> None:
    with pytest.raises(TypeError):
        encoder.encode(LEAVE_QUESTION)
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode([LEAVE_QUESTION], batch_size=0)


def test_threads_can_share_one_encoder(encoder: MiniLMEncoder) -> None:
    groups = [[LEAVE_QUESTION, LONG], [VIETNAMESE, "a"], ["", LEAVE_QUESTION * 3]] * 2
    expected = [encoder.encode(group) for group in groups]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(encoder.encode, groups))
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
