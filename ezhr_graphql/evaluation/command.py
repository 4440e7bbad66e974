"""The ``eval`` command: ask an agent the questions of a golden set, on the configured
database (migrated first, as ``serve`` does), and report how its answers measure.

Refusals (a missing or malformed golden set, an unknown agent, a database without
it) are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ezhr_graphql import migrations
from ezhr_graphql.evaluation.golden import EvaluationError, GoldenQuestion, read_golden_set
from ezhr_graphql.settings import Settings, get_settings

if TYPE_CHECKING:
    from ezhr_graphql.evaluation.run import Evaluation

# Who asks unless told: a member created when missing, with a password nobody knows.
DEFAULT_USER = "answer-evaluation@example.com"


def add_eval_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "eval",
        help="ask an agent the questions of a golden set (TSV) and measure its answers",
        description=(
            "Ask an agent every question of a golden set, as an employee would in the "
            "chat, and report retrieval (hit@1, hit@5, MRR), key phrases, unsupported "
            "numbers, endings, refusals and time to first token."
        ),
    )
    parser.add_argument(
        "golden_set",
        metavar="QUESTIONS.tsv",
        type=Path,
        help="columns question, source, key and optional follow_up, separated by tabs",
    )
    parser.add_argument("--agent", required=True, help="the agent's name")
    parser.add_argument(
        "--user",
        default=DEFAULT_USER,
        help=f"who asks (default {DEFAULT_USER}, a member created when missing)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object, with every row")
    parser.set_defaults(func=cmd_eval)


def evaluation_settings(settings: Settings) -> Settings:
    """``settings`` for an evaluation. Its questions are asked one at a time, each
    once the reply before it has ended, so the per-minute limit on starting replies
    (meant to slow people and scripts down) does not apply; the limits on replies at
    once and on message length do."""
    rate_limit = settings.rate_limit.model_copy(update={"enabled": False})
    return settings.model_copy(update={"rate_limit": rate_limit})


def cmd_eval(args: argparse.Namespace) -> int:
    # The application (models, services) loads only for this command.
    from ezhr_graphql.evaluation.report import as_json, as_text

    try:
        questions = read_golden_set(args.golden_set)
        settings = evaluation_settings(get_settings())
        _require_database(settings.database.url)
        migrations.upgrade()
        evaluation = asyncio.run(_evaluate(settings, questions, args))
    except EvaluationError as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:  # refused, unreachable, or rejected us
        reason = " ".join(str(exc.__cause__ or exc).split())[:300]
        print(f"eval: the database cannot be used: {reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eval: interrupted", file=sys.stderr)
        return 130
    print(as_json(evaluation) if args.json else as_text(evaluation))
    return 0


def _require_database(url: str) -> None:
    """Raises:
    EvaluationError: the SQLite database file does not exist (no agent in it).
    """
    parsed = make_url(url)
    path = parsed.database
    sqlite_file = parsed.get_backend_name() == "sqlite" and path not in (None, "", ":memory:")
    if sqlite_file and not Path(str(path)).exists():
        raise EvaluationError(
            f"no database at {path}: create it with 'ezhr-graphql serve' or "
            "'ezhr-graphql ingest PATH', or set EZHR_DATABASE__URL"
        )


def _progress(number: int, total: int, question: GoldenQuestion) -> None:
    text = " ".join(question.question.split())[:60]
    print(f"\r[{number}/{total}] {text:<60}", end="", file=sys.stderr, flush=True)
    if number == total:
        print(file=sys.stderr)


async def _evaluate(
    settings: Settings, questions: Sequence[GoldenQuestion], args: argparse.Namespace
) -> Evaluation:
    from ezhr_graphql.container import Container
    from ezhr_graphql.evaluation.run import evaluate

    container = Container.build(settings)
    try:
        await container.db.ping()
        await container.check_vector_store()
        return await evaluate(
            container,
            questions,
            args.agent,
            user=args.user,
            golden_set=str(args.golden_set),
            progress=_progress if sys.stderr.isatty() else None,
        )
    finally:
        await container.close()
