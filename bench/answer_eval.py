"""Answer quality on the golden sets, end to end, in one run.

For each set: a fresh SQLite database in a temporary folder, migrated and seeded (the
demo admin, models and the "HR Assistant" agent, without the sample policies, so that
the set measures its own documents); the corpus loaded into the agent's collection as
`ezhr-graphql ingest` loads it, and indexed through the real pipeline; then the golden
set asked through the chat exactly as `ezhr-graphql eval` asks it, and its report.

- ``en``: the 18F handbook (``../shared/corpora/18f-handbook``, about 245 pages, whose
  indexing is the slow part: some twenty minutes on 2 cores) and
  ``bench/golden/handbook-en.tsv``;
- ``vi``: the Vietnamese labour regulations (``../shared/corpora/ezhr-samples``) and
  ``bench/golden/labour-vi.tsv``.

    uv run python bench/answer_eval.py                      # both sets
    uv run python bench/answer_eval.py --set vi --limit 5   # a quick run
    uv run python bench/answer_eval.py --set en --json      # for machines
    uv run python bench/answer_eval.py --keep /tmp/answers  # index once, ask again later

With ``--keep DIR`` each set's database is ``DIR/<set>.db``: made and indexed on the
first run, then only asked (the chunks and vectors are in it) until it is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ezhr_graphql import migrations
from ezhr_graphql.container import Container
from ezhr_graphql.evaluation.command import DEFAULT_USER, evaluation_settings
from ezhr_graphql.evaluation.golden import GoldenQuestion, read_golden_set
from ezhr_graphql.evaluation.report import as_text
from ezhr_graphql.evaluation.run import Evaluation, evaluate
from ezhr_graphql.models import Document, DocumentChunk, DocumentStatus
from ezhr_graphql.services.loading import JobList, load_files
from ezhr_graphql.services.seed import DEMO_AGENT, seed
from ezhr_graphql.settings import Environment, Settings

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
GOLDEN = ROOT / "bench" / "golden"
COLLECTION = "HR documents"  # what `ezhr-graphql ingest` loads into by default


@dataclass(frozen=True)
class GoldenSet:
    name: str
    corpus: Path
    questions: Path


SETS = {
    "en": GoldenSet("en", CORPORA / "18f-handbook", GOLDEN / "handbook-en.tsv"),
    "vi": GoldenSet("vi", CORPORA / "ezhr-samples", GOLDEN / "labour-vi.tsv"),
}


async def ingest(container: Container, corpus: Path) -> dict[str, Any]:
    """Seed, load ``corpus`` into the demo agent's collection, index it; what it took."""
    jobs = JobList()  # run below, one by one, to time them
    async with container.db.transaction() as session:
        await seed(session, container.hasher, "bench-admin@example.com", "bench-admin-password")
        services = container.services(session, ingestion_queue=jobs)
        loaded = await load_files(services.knowledge, [corpus], COLLECTION, DEMO_AGENT)
    started = time.perf_counter()
    for number, job in enumerate(jobs.jobs, start=1):
        if sys.stderr.isatty():
            print(f"\rindexing {number}/{len(jobs.jobs)}", end="", file=sys.stderr, flush=True)
        await container.ingestion.run(job)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    seconds = time.perf_counter() - started
    async with container.db.read() as session:
        chunks = await session.scalar(select(func.count()).select_from(DocumentChunk)) or 0
        rows = await session.execute(
            select(Document.status, func.count()).group_by(Document.status)
        )
        statuses = {status.value: count for status, count in rows}
    return {
        "corpus": Path(os.path.relpath(corpus, ROOT)).as_posix(),
        "files_loaded": loaded.new_documents,
        "documents_ready": statuses.get(DocumentStatus.READY.value, 0),
        "documents_failed": statuses.get(DocumentStatus.FAILED.value, 0),
        "chunks": chunks,
        "seconds": round(seconds, 1),
    }


def progress(number: int, total: int, question: GoldenQuestion) -> None:
    text = " ".join(question.question.split())[:60]
    print(f"\r[{number}/{total}] {text:<60}", end="", file=sys.stderr, flush=True)
    if number == total:
        print(file=sys.stderr)


async def indexed(container: Container, corpus: Path) -> dict[str, Any] | None:
    """What a kept database holds, or ``None`` when it holds nothing ready."""
    async with container.db.read() as session:
        ready = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.status == DocumentStatus.READY)
        )
        chunks = await session.scalar(select(func.count()).select_from(DocumentChunk)) or 0
    if not ready:
        return None
    return {
        "corpus": Path(os.path.relpath(corpus, ROOT)).as_posix(),
        "files_loaded": 0,
        "documents_ready": ready,
        "documents_failed": 0,
        "chunks": chunks,
        "seconds": 0.0,
    }


async def run_set(
    chosen: GoldenSet, limit: int | None, keep: Path | None
) -> tuple[dict[str, Any], Evaluation]:
    questions = read_golden_set(chosen.questions)[:limit]
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep if keep is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        settings = evaluation_settings(
            Settings(
                env=Environment.TEST,
                database={"url": f"sqlite+aiosqlite:///{folder}/{chosen.name}.db"},
                auth={"secret_key": "answer-benchmark-signing-key-0123456789"},
            )
        )
        container = Container.build(settings)
        await migrations.upgrade_engine(container.db.engine)
        await container.start()
        try:
            ingestion = await indexed(container, chosen.corpus)
            if ingestion is None:
                ingestion = await ingest(container, chosen.corpus)
            evaluation = await evaluate(
                container,
                questions,
                DEMO_AGENT,
                user=DEFAULT_USER,
                golden_set=chosen.questions.relative_to(ROOT).as_posix(),
                progress=progress if sys.stderr.isatty() else None,
            )
        finally:
            await container.close()
    return ingestion, evaluation


def ingestion_line(ingestion: dict[str, Any]) -> str:
    return (
        f"Indexed {ingestion['corpus']}: {ingestion['documents_ready']} documents ready, "
        f"{ingestion['documents_failed']} failed, {ingestion['chunks']} chunks in "
        f"{ingestion['seconds']} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=["en", "vi", "both"], default="both")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--json", action="store_true", help="one JSON object, by set")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep each set's indexed database in this folder"
    )
    args = parser.parse_args()
    names = ["en", "vi"] if args.set == "both" else [args.set]
    results: dict[str, Any] = {}
    for name in names:
        ingestion, evaluation = await run_set(SETS[name], args.limit, args.keep)
        if args.json:
            results[name] = {"ingestion": ingestion, **evaluation.to_json()}
        else:
            print(f"=== {name}: {SETS[name].questions.name} ===")
            print(ingestion_line(ingestion))
            print(as_text(evaluation), end="\n\n", flush=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
