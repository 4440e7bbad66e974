"""An evaluation for people (a text report) and for machines (one JSON object)."""

from __future__ import annotations

import json

from ezhr_graphql.evaluation.metrics import Outcome, Row
from ezhr_graphql.evaluation.run import Evaluation

QUESTION_WIDTH = 72


def as_json(evaluation: Evaluation) -> str:
    return json.dumps(evaluation.to_json(), ensure_ascii=False, indent=2)


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(figure: Row) -> str:
    share = figure["share"]
    percent = "n/a" if share is None else f"{100 * share:5.1f}%"
    return f"{figure['count']:>4} of {figure['of']:<4} {percent:>6}"


def _retrieval_lines(summary: Row, searched: bool = False) -> list[str]:
    if searched:
        title = "Search (a hit: the expected document is found)"
        key = "search"
    else:
        title = "Replies (a hit: the expected document is cited)"
        key = "retrieval"
    lines = [f"{title:<52}{'questions':>9} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}"]
    figures = [("all answerable", summary[key])]
    if not searched:  # by source once: the JSON has both
        figures += sorted(summary[f"{key}_by_source"].items())
    for name, row in figures:
        label = name if len(name) <= 48 else "…" + name[-47:]
        lines.append(
            f"  {label:<50}{row['questions']:>9} {_number(row['hit_at_1']):>6} "
            f"{_number(row['hit_at_5']):>6} {_number(row['mrr']):>6}"
        )
    return lines


def _answer_lines(summary: Row) -> list[str]:
    numbers, endings, refusals = (
        summary["unsupported_numbers"],
        summary["endings"],
        summary["refusals"],
    )
    loops, lengths = endings["loop"]["count"], endings["length"]["count"]
    return [
        "Answers",
        f"  {'key phrase in the reply (answerable)':<44}{_ratio(summary['key_phrase'])}",
        f"  {'unsupported numbers, stored grounding':<44}{_ratio(numbers['stored'])}"
        f"   ({numbers['stored_unchecked']} answers not checked)",
        f"  {'numbers in no cited quote (this command)':<44}{_ratio(numbers['quotes'])}",
        f"  {'looped or reached the token limit':<44}{_ratio(endings['loop_or_length'])}"
        f"   (LOOP {loops}, LENGTH {lengths})",
        f"  {'no-answer message, unanswerable questions':<44}"
        f"{_ratio(refusals['unanswerable'])}   (higher is better)",
        f"  {'no-answer message, answerable questions':<44}"
        f"{_ratio(refusals['answerable'])}   (lower is better)",
        f"  {'failed':<44}{_ratio(summary['failed'])}",
    ]


def _timing_lines(summary: Row) -> list[str]:
    timing = summary["time_to_first_token_ms"]
    lines = [f"{'Time to first token (ms)':<46}{'replies':>8} {'p50':>7} {'p90':>7}"]
    for label, row in (
        ("stored with the reply (server)", timing["server"]),
        ("from the send to the first delta (client)", timing["client"]),
    ):
        p50 = "n/a" if row["p50"] is None else str(row["p50"])
        p90 = "n/a" if row["p90"] is None else str(row["p90"])
        lines.append(f"  {label:<44}{row['replies']:>8} {p50:>7} {p90:>7}")
    return lines


def problems(outcome: Outcome) -> list[str]:
    """What is wrong with one question's reply (nothing: it is fine)."""
    found: list[str] = []
    if not outcome.completed:
        found.append(f"{outcome.status.value.lower()} ({outcome.error or 'no reason'})")
    if outcome.question.answerable:
        if outcome.search_rank is None:
            found.append("source not found by the search")
        if outcome.refused:
            found.append("no-answer message")
        elif outcome.rank != 1:
            found.append(
                "source not cited" if outcome.rank is None else f"source ranked {outcome.rank}"
            )
        if outcome.key_found is False and not outcome.refused:
            found.append("key phrase missing")
    elif outcome.completed and not outcome.refused:
        found.append("answered a question the documents do not cover")
    if outcome.unquoted_numbers:
        found.append("numbers in no quote: " + ", ".join(outcome.unquoted_numbers[:5]))
    if outcome.finish_reason is not None and outcome.finish_reason.value in ("LOOP", "LENGTH"):
        found.append(f"ended {outcome.finish_reason.value}")
    return found


def _question_lines(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for outcome in outcomes:
        found = problems(outcome)
        if found:
            text = " ".join(outcome.question.question.split())
            if len(text) > QUESTION_WIDTH:
                text = text[: QUESTION_WIDTH - 1] + "…"
            lines.append(f"  line {outcome.question.line}: {'; '.join(found)}\n      {text}")
    return ["Questions to look at", *lines] if lines else ["Every question got a good reply."]


def as_text(evaluation: Evaluation) -> str:
    summary = evaluation.summary()
    head = (
        f"Evaluated {summary['questions']} questions of {evaluation.golden_set} on agent "
        f"{evaluation.agent!r} in {evaluation.seconds:.1f} s ({summary['answerable']} "
        f"answerable, {summary['unanswerable']} unanswerable, {summary['follow_ups']} "
        f"follow-ups; asked as {evaluation.user})"
    )
    blocks = [
        [head],
        _retrieval_lines(summary, searched=True),
        _retrieval_lines(summary),
        _answer_lines(summary),
        _timing_lines(summary),
        _question_lines(evaluation.outcomes),
    ]
    return "\n\n".join("\n".join(block) for block in blocks)
