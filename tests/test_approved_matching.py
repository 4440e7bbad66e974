"""Approved-answer matching on the labelled pairs of bench/golden: no different
question is taken for an approved one, and rewordings in other dress still are."""

from __future__ import annotations

from ezhr_graphql.evaluation.pairs import judge, load
from ezhr_graphql.services.insights.similarity import Question, same_question
from tests.conftest import ROOT

PAIRS = ROOT / "bench" / "golden" / "approved-pairs.json"


def test_no_different_question_of_the_labelled_pairs_gets_an_approved_answer() -> None:
    pairs = load(PAIRS)
    tally = judge(pairs)

    assert tally.false_matches == [], "\n".join(tally.lines("rule"))
    # The set holds 60 different questions and 60 rewordings, in English and Vietnamese.
    assert sum(tally.pairs.values()) == len(pairs) == 120
    assert tally.pairs[("en", False)] == 40
    assert tally.pairs[("vi", False)] == 20


def test_only_dress_sets_a_phrasing_and_a_question_apart() -> None:
    annual, năm = (
        "How many days of annual leave do I get?",
        "Tôi được nghỉ phép năm bao nhiêu ngày?",
    )
    same = [
        (annual, "how many days of annual leave do i get"),
        (annual, "Please tell me: how many days of annual leave I get?"),
        (năm, "Cho tôi hỏi, tôi được nghỉ phép năm bao nhiêu ngày ạ?"),
        ("Thỏa thuận lao động ký khi nào?", "Thoả thuận lao động ký khi nào?"),  # tone placement
    ]
    different = [
        ("Can I work from home on Fridays?", "Must I work from home on Fridays?"),
        ("How do I opt in to the pension plan?", "How do I opt out of the pension plan?"),
        ("How many days of leave can she take?", "How many days of leave can he take?"),
        ("Is the minimum notice period 30 days?", "Is the maximum notice period 30 days?"),
        ("Do I get 3 days of compassionate leave?", "Do I get 5 days of compassionate leave?"),
        ("Who do I report to?", "Who reports to me?"),
        ("Làm việc từ mấy giờ?", "Làm việc đến mấy giờ?"),
        ("Anh được nghỉ thai sản bao lâu?", "Chị được nghỉ thai sản bao lâu?"),
        ("luong thang 13 tra khi nao?", "luong thang 12 tra khi nao?"),
    ]  # fmt: skip
    for approved, asked in same:
        assert same_question(Question.of(asked), Question.of(approved)), asked
    for approved, asked in different:
        assert not same_question(Question.of(asked), Question.of(approved)), asked
