"""Approved-answer matching on labelled pairs of HR questions: how many different
questions would get an approved answer (false matches: the wrong policy), and how
many rewordings would (the rest fall back to the documents), by the rule replies use
and, beside it, by the local model's cosine at a threshold.

    uv run python bench/approved_matching.py [--cosine 0.9] [--pairs FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ezhr_graphql.evaluation.pairs import by_cosine, judge, load
from ezhr_graphql.rag import ModelRegistry

PAIRS = Path(__file__).parent / "golden" / "approved-pairs.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--cosine", type=float, default=0.9)
    args = parser.parse_args()
    pairs = load(args.pairs)
    for line in judge(pairs).lines("the rule replies use"):
        print(line)
    models = ModelRegistry(allow_scripted=False)
    for line in by_cosine(pairs, models, args.cosine).lines(f"cosine >= {args.cosine}"):
        print(line)


if __name__ == "__main__":
    main()
