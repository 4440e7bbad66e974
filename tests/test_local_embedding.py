"""The NumPy all-MiniLM-L6-v2 encoder, checked against sentence-transformers' own output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ezhr_graphql.rag.local_embedding import MiniLMEncoder

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


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder.load()


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
