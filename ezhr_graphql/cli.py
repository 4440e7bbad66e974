"""The ``ezhr-graphql`` command: serve, db, seed, schema, persisted, eval."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from ezhr_graphql import migrations
from ezhr_graphql.evaluation.command import add_eval_command
from ezhr_graphql.observe import logs
from ezhr_graphql.settings import PROJECT_ROOT, Settings, get_settings

SCHEMA_FILE = PROJECT_ROOT / "schema.graphql"
OPERATIONS_FILE = PROJECT_ROOT / "docs" / "operations.graphql"


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class SeedRefused(Exception):
    """The configured admin password breaks the password policy."""


async def _seed(settings: Settings) -> str:
    """Seed the demo data and the sample policies, then index them: here without
    workers (so that `seed`, `ingest` and `serve` start with them ready), or on the
    Redis queue for the workers.

    Raises:
        SeedRefused: the admin password breaks the password policy.
    """
    from ezhr_graphql.container import Container
    from ezhr_graphql.errors import InvalidInputError
    from ezhr_graphql.services.ingestion import LocalIngestionQueue
    from ezhr_graphql.services.loading import JobList
    from ezhr_graphql.services.seed import seed, seed_samples

    password = settings.seed_admin_password
    if password is None:
        return "seed skipped: set EZHR_SEED__ADMIN_PASSWORD to create the admin user"
    container = Container.build(settings)
    try:
        if settings.seed.admin_password is not None:
            # A configured admin password is held to the policy members are (a weak
            # one would be the easiest way in); the development default is known.
            try:
                container.services(None).users.passwords.check(password, settings.seed.admin_email)
            except InvalidInputError as exc:
                raise SeedRefused(f"EZHR_SEED__ADMIN_PASSWORD refused: {exc}") from exc
        local = isinstance(container.ingestion_queue, LocalIngestionQueue)
        jobs = JobList()
        async with container.db.transaction() as session:
            result = await seed(session, container.hasher, settings.seed.admin_email, password)
            services = container.services(session, ingestion_queue=jobs if local else None)
            samples = await seed_samples(services.knowledge, result)
        await container.ingestion.run_all(jobs.jobs)
    finally:
        await container.close()
    made = ", ".join(result.created + samples.created) or "nothing (already seeded)"
    lines = [f"seeded: {made}; admin login {settings.seed.admin_email}", *samples.report]
    if jobs.jobs:
        lines.append(f"indexed {len(jobs.jobs)} sample documents")
    elif not local and "sample_documents" in samples.created:
        lines.append("queued the sample documents for the workers")
    return "\n".join(lines)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = get_settings()
    _ensure_sqlite_dir(settings.database.url)
    migrations.upgrade(None, args.revision)
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    migrations.downgrade(None, args.revision)
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    migrations.revision(args.message, get_settings().database.url, autogenerate=True)
    return 0


def cmd_db_sql(args: argparse.Namespace) -> int:
    print(migrations.render_sql(args.url or get_settings().database.url, args.range))
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    settings = get_settings()
    # A fresh database is prepared as `serve` prepares it.
    _ensure_sqlite_dir(settings.database.url)
    migrations.upgrade()
    try:
        print(asyncio.run(_seed(settings)))
    except SeedRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _schema_sdl() -> str:
    from ezhr_graphql.api.graphql.schema import build_schema

    return build_schema().as_str().rstrip() + "\n"


def cmd_schema_export(args: argparse.Namespace) -> int:
    sdl = _schema_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
    return 0


def cmd_schema_check(args: argparse.Namespace) -> int:
    current = Path(args.file).read_text(encoding="utf-8") if Path(args.file).exists() else ""
    if current != _schema_sdl():
        print(f"{args.file} is out of date: run `ezhr-graphql schema export`", file=sys.stderr)
        return 1
    return 0


def cmd_persisted_export(args: argparse.Namespace) -> int:
    import orjson

    from ezhr_graphql.api.guards.persisted import manifest_of

    manifest = manifest_of(Path(args.source).read_text(encoding="utf-8"))
    text = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    if args.output == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    host = args.host or settings.server.host
    if host not in LOOPBACK and settings.auth.secret_key is None:
        print(
            f"refusing to listen on {host} with the development signing key and demo "
            "password: set EZHR_AUTH__SECRET_KEY (and EZHR_ENV=production), or bind to "
            "127.0.0.1",
            file=sys.stderr,
        )
        return 2
    if not args.no_migrate:
        _ensure_sqlite_dir(settings.database.url)
        migrations.upgrade()
        try:
            print(asyncio.run(_seed(settings)))
        except SeedRefused as exc:
            print(exc, file=sys.stderr)
            return 2
    logs.configure(settings.log_level, json_logs=settings.log_format == "json")
    uvicorn.run(
        "ezhr_graphql.asgi:app",
        log_config=None,  # ours: JSON lines with the request's context
        host=host,
        port=args.port or settings.server.port,
        workers=args.workers or settings.server.workers,
        access_log=settings.server.access_log,
        ws_per_message_deflate=False,
        # The app closes a connection whose message is over its limit with the
        # protocol's code; past a few times that, uvicorn drops it unread.
        ws_max_size=4 * settings.graphql.max_ws_message_bytes,
        log_level=settings.log_level.lower(),
    )
    return 0


async def _work(settings: Settings, concurrency: int) -> None:
    from ezhr_graphql.container import Container
    from ezhr_graphql.jobs import RedisIngestionQueue, run_worker

    container = Container.build(settings)
    queue = container.ingestion_queue
    assert isinstance(queue, RedisIngestionQueue)
    try:
        await container.db.ping()
        await container.check_vector_store()
        await run_worker(queue, container.ingestion, concurrency)
    finally:
        await container.close()


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.redis_url or settings.knowledge.queue == "local":
        print(
            "the worker takes ingestion jobs from Redis: set EZHR_REDIS_URL (without it, "
            "the API process ingests documents itself)",
            file=sys.stderr,
        )
        return 2
    logs.configure(settings.log_level, json_logs=settings.log_format == "json")
    asyncio.run(_work(settings, args.concurrency))
    return 0


async def _ingest(settings: Settings, paths: list[Path], collection: str, agent: str) -> int:
    from ezhr_graphql.container import Container
    from ezhr_graphql.services.ingestion import LocalIngestionQueue
    from ezhr_graphql.services.loading import JobList, load_files

    container = Container.build(settings)
    try:
        await container.db.ping()
        await container.check_vector_store()
        # Without workers, this command indexes the documents itself, showing progress.
        local = isinstance(container.ingestion_queue, LocalIngestionQueue)
        jobs = JobList()
        async with container.db.transaction() as session:
            services = container.services(session, ingestion_queue=jobs if local else None)
            loaded = await load_files(services.knowledge, paths, collection, agent)
        for line in loaded.report:
            print(line)
        if local:
            total = len(jobs.jobs)

            def indexed(done: int) -> None:
                print(f"indexed {done}/{total}", end="\r", flush=True)

            await container.ingestion.run_all(jobs.jobs, indexed)
            print(f"indexed {total} documents" + " " * 20)
        else:
            print(f"queued {loaded.new_documents} documents for the workers")
        return 0
    finally:
        await container.close()


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = get_settings()
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    # A fresh database is prepared as `serve` prepares it: migrated and seeded.
    _ensure_sqlite_dir(settings.database.url)
    migrations.upgrade()
    try:
        print(asyncio.run(_seed(settings)))
        return asyncio.run(_ingest(settings, paths, args.collection, args.agent))
    except SeedRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 2


async def _sweep(settings: Settings) -> int:
    from ezhr_graphql.container import Container

    container = Container.build(settings)
    try:
        await container.db.ping()
        removed = await container.retention.sweep()
    finally:
        await container.close()
    if removed is None:
        print("another process is sweeping now; nothing done")
        return 0
    for name, count in removed.details().items():
        print(f"{name}: {count}")
    return 0


def cmd_privacy_sweep(_: argparse.Namespace) -> int:
    settings = get_settings()
    logs.configure(settings.log_level, json_logs=settings.log_format == "json")
    return asyncio.run(_sweep(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ezhr-graphql", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, seed, and serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="skip migrations and seed")
    serve.set_defaults(func=cmd_serve)

    _add_db_commands(commands)
    _add_work_commands(commands)
    _add_schema_commands(commands)
    add_eval_command(commands)
    return parser


def _add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database migrations").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="migrate to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to a revision")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)
    rev = db.add_parser("revision", help="autogenerate a migration from the models")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=cmd_db_revision)
    sql = db.add_parser("sql", help="print the migrations' SQL for a database URL")
    sql.add_argument("--url", help="e.g. mssql+aioodbc://host/db (default: configured URL)")
    sql.add_argument("--range", default="base:head")
    sql.set_defaults(func=cmd_db_sql)


def _add_work_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = commands.add_parser(
        "worker", help="index uploaded documents (jobs from Redis; needs EZHR_REDIS_URL)"
    )
    worker.add_argument("--concurrency", type=int, default=1)
    worker.set_defaults(func=cmd_worker)

    ingest = commands.add_parser(
        "ingest", help="upload files or folders into a collection an agent answers from"
    )
    ingest.add_argument("paths", nargs="+", help="files, or folders to walk")
    ingest.add_argument("--collection", default="HR documents")
    ingest.add_argument("--agent", default="HR Assistant")
    ingest.set_defaults(func=cmd_ingest)

    privacy = commands.add_parser("privacy", help="retention of conversations").add_subparsers(
        dest="privacy_command", required=True
    )
    sweep = privacy.add_parser(
        "sweep",
        help="remove, once, the conversations past their agent's retention period and "
        "those deleted longer ago than the grace period; print the counts",
    )
    sweep.set_defaults(func=cmd_privacy_sweep)
    seed_cmd = commands.add_parser("seed", help="create the demo admin, models and agent")
    seed_cmd.set_defaults(func=cmd_seed)


def _add_schema_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser("schema", help="the GraphQL schema (SDL)").add_subparsers(
        dest="schema_command", required=True
    )
    export = schema.add_parser("export", help="write schema.graphql")
    export.add_argument("-o", "--output", default=str(SCHEMA_FILE), help="file, or - for stdout")
    export.set_defaults(func=cmd_schema_export)
    check = schema.add_parser("check", help="fail when schema.graphql is out of date")
    check.add_argument("--file", default=str(SCHEMA_FILE))
    check.set_defaults(func=cmd_schema_check)

    persisted = commands.add_parser(
        "persisted", help="persisted queries (EZHR_GRAPHQL__PERSISTED_QUERIES)"
    ).add_subparsers(dest="persisted_command", required=True)
    manifest = persisted.add_parser(
        "export", help="write an allow-list manifest (hash -> document) of a document's operations"
    )
    manifest.add_argument("--source", default=str(OPERATIONS_FILE), help="a .graphql file")
    manifest.add_argument("-o", "--output", default="-", help="file, or - for stdout")
    manifest.set_defaults(func=cmd_persisted_export)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
