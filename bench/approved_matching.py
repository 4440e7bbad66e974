"""Approved-answer matching on labelled pairs of HR questions: how many different
questions would get an approved answer (false matches: the wrong policy), and how
many rewordings would (the rest fall back to the documents).

    uv run python bench/approved_matching.py [--min-cosine 0.93] [--pairs FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ezhr_graphql.evaluation.pairs import evaluate, load
from ezhr_graphql.people_settings import InsightsSettings
from ezhr_graphql.rag import ModelRegistry

PAIRS = Path(__file__).parent / "golden" / "approved-pairs.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument(
        "--min-cosine", type=float, default=InsightsSettings().approved_answer_similarity
    )
    args = parser.parse_args()
    report = evaluate(load(args.pairs), ModelRegistry(allow_scripted=False), args.min_cosine)
    print(f"min cosine {args.min_cosine}")
    for line in report.lines():
        print(line)


if __name__ == "__main__":
    main()
