"""Approved-answer matching on the labelled pairs of bench/golden: no different
question is taken for an approved one, and rewordings still are, some of them."""

from __future__ import annotations

from ezhr_graphql.evaluation.pairs import evaluate, load
from ezhr_graphql.people_settings import InsightsSettings
from ezhr_graphql.rag import ModelRegistry
from tests.conftest import ROOT

PAIRS = ROOT / "bench" / "golden" / "approved-pairs.json"


def test_no_different_question_gets_an_approved_answer() -> None:
    pairs = load(PAIRS)
    report = evaluate(
        pairs, ModelRegistry(allow_scripted=False), InsightsSettings().approved_answer_similarity
    )

    assert report.false_matches == [], "\n".join(report.lines())
    # The set holds 60 different questions and 60 rewordings, in English and Vietnamese.
    assert sum(report.pairs.values()) == len(pairs) == 120
    assert report.pairs[("en", False)] == 40
    assert report.pairs[("vi", False)] == 20
    # Same words in another case and punctuation, and close rewordings, still match.
    assert report.matched[("en", True)] + report.matched[("vi", True)] >= 7, report.lines()
