"""Load test: simulated users chatting at once against two server processes that
share a database and Redis, with dropped connections and stops mixed in.

It starts the server processes on loopback ports (a throwaway PostgreSQL schema, or
a temporary SQLite file with ``--database-url sqlite``), creates the users and an
agent on a scripted model paced to stream for a while, lets every user chat until
``--duration`` is up (see bench/load_client.py), waits for the replies to end, and
checks what the clients saw against what was stored. Everything it started is torn
down at the end, or at the hard limit at the latest.

Prints messages sent and stored, events lost and duplicated, time to first token
(and what the server adds to the model's own first-token delay), errors by code,
reconnects and stops, and peak memory per process. Exits non-zero when an event was
lost or repeated, a stored reply differs from what its client saw, a reply is stuck
STREAMING, or a message sent is missing.

    uv run python bench/load.py [--users 200] [--duration 60] [--processes 2]
        [--database-url postgresql+asyncpg://...|sqlite] [--json figures.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import redis.asyncio as redis
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import RATE_LIMITS_NEVER_HIT, SECRET, People, free_port  # noqa: E402
from bench.load_client import Behaviour, Stats, User  # noqa: E402
from bench.load_report import Measured, figures, report, server_errors  # noqa: E402
from bench.stream_bench import cpu_seconds, rss_kib  # noqa: E402
from ezhr_graphql import migrations  # noqa: E402
from ezhr_graphql.container import Container  # noqa: E402
from ezhr_graphql.models import ChatMessage, MessageRole, MessageStatus, Role  # noqa: E402
from ezhr_graphql.services.replies.streams import stream_name  # noqa: E402
from ezhr_graphql.settings import DatabaseSettings, Environment, Settings  # noqa: E402
from tests.databases import throwaway_schema  # noqa: E402
from tests.factories import make_agent  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "ezhr:"  # RedisBroker's default key prefix


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60, help="seconds of chatting")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("EZHR_TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL (a throwaway schema is made in it), or `sqlite` for a temp file",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("EZHR_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    )
    parser.add_argument("--tokens", type=int, default=40, help="tokens per reply")
    parser.add_argument("--delay-ms", type=int, default=50, help="the model's pause per token")
    parser.add_argument("--drop-rate", type=float, default=0.15, help="follows that reconnect")
    parser.add_argument("--stop-rate", type=float, default=0.08, help="replies stopped")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between questions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--hard-limit", type=float, help="seconds before everything is torn down (duration + 90)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.hard_limit is None:
        args.hard_limit = args.duration + 90
    if args.tokens < 2:
        parser.error("--tokens must be at least 2")
    return args


# --- the servers' surroundings ---------------------------------------------------


@asynccontextmanager
async def throwaway_database(url: str) -> AsyncIterator[DatabaseSettings]:
    """A fresh schema in PostgreSQL, dropped afterwards; ``sqlite``: a temp file."""
    if url == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ezhr-load-") as tmp:
            yield DatabaseSettings(url=f"sqlite+aiosqlite:///{Path(tmp) / 'load.db'}")
        return
    if url.startswith("sqlite"):
        yield DatabaseSettings(url=url)
        return
    async with throwaway_schema(url, "ezhr_load") as schema:
        yield DatabaseSettings(url=url, schema_name=schema)


def server_env(database: DatabaseSettings, redis_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "EZHR_ENV": "production",
        "EZHR_DATABASE__URL": database.url,
        "EZHR_AUTH__SECRET_KEY": SECRET,
        "EZHR_REDIS_URL": redis_url,
        "EZHR_CHAT__ALLOW_SCRIPTED_LLM": "true",
        "EZHR_LOG_LEVEL": "WARNING",
        # Ended streams leave Redis soon after the run, even if it is cut short.
        "EZHR_CHAT__STREAM_RETENTION_SECONDS": "600",
        **RATE_LIMITS_NEVER_HIT,
        "PYTHONPATH": str(ROOT),
    }
    if database.schema_name:
        env["EZHR_DATABASE__SCHEMA_NAME"] = database.schema_name
    return env


def start_server(port: int, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "ezhr_graphql.asgi:app",
               "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
               "--http", "httptools", "--no-access-log", "--ws-per-message-deflate", "false",
               "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(
    http: httpx.AsyncClient, address: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on {address} exited ({process.returncode})")
        try:
            if (await http.get(f"http://{address}/readyz", timeout=2)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server on {address} did not become ready")


def stop_servers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- the run ------------------------------------------------------------------------


async def prepare(container: Container, users: int, script: str) -> tuple[list[str], str]:
    """Tokens of ``users`` members, and the id of an agent on ``script``."""
    await migrations.upgrade_engine(container.db.engine)
    people = People(container)
    admin = await people.make(Role.ADMIN, "load-admin@example.com")
    members = [await people.make(Role.MEMBER, f"load-{i}@example.com") for i in range(users)]
    agent = await make_agent(container, admin, llm=script)  # type: ignore[arg-type]
    return [m.token for m in members], str(agent.id)


async def drive(
    args: argparse.Namespace, tokens: list[str], agent: str, servers: list[str]
) -> Stats:
    """Every user chats until the duration is up; the replies in progress finish."""
    stats = Stats()
    spread = args.think / 2
    behaviour = Behaviour(
        tokens=args.tokens,
        drop_rate=args.drop_rate,
        stop_rate=args.stop_rate,
        think=(args.think - spread, args.think + spread),
        ramp=min(3.0, args.duration / 4),
        messages_per_session=3,
        receive_timeout=20,
    )
    # Idle connections are let go before uvicorn's 5 s keep-alive ends them, so that
    # no request races the server closing its connection.
    limits = httpx.Limits(
        max_connections=len(tokens), max_keepalive_connections=len(tokens), keepalive_expiry=4
    )
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.duration
        users = [
            User(token, agent, servers, http, stats, behaviour, seed=args.seed * 100_003 + i)
            for i, token in enumerate(tokens)
        ]
        tasks = [asyncio.create_task(user.run(deadline)) for user in users]
        _, late = await asyncio.wait(tasks, timeout=args.duration + 45)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                stats.errors[f"client crash:{type(task.exception()).__name__}"] += 1
        if late:
            stats.errors["client gave up waiting"] += len(late)
    return stats


async def stored_messages(container: Container) -> list[Any]:
    async with container.db.read() as session:
        result = await session.execute(
            select(ChatMessage.id, ChatMessage.role, ChatMessage.status, ChatMessage.content)
        )
        return list(result.all())


async def drain(container: Container, seconds: float) -> list[Any]:
    """The stored messages once no reply is STREAMING (or ``seconds`` passed)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = await stored_messages(container)
        streaming = any(r.status is MessageStatus.STREAMING for r in rows)
        if not streaming or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


async def forget_streams(redis_url: str, message_ids: list[uuid.UUID]) -> None:
    """Delete this run's reply streams from Redis (and nothing else)."""
    client = redis.from_url(redis_url)
    try:
        keys = [f"{REDIS_PREFIX}stream:{stream_name(m)}" for m in message_ids]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    script = f"scripted?tokens={args.tokens}&delay_ms={args.delay_ms}"
    async with throwaway_database(args.database_url) as database:
        # Fast password hashing for the users made here; the servers run as production.
        settings = Settings(
            env=Environment.TEST,
            database=database,
            auth={"secret_key": SECRET},  # type: ignore[arg-type]
            chat={"allow_scripted_llm": True},  # type: ignore[arg-type]
        )
        container = Container.build(settings)
        workdir = Path(tempfile.mkdtemp(prefix="ezhr-load-logs-"))
        logs = [workdir / f"server-{i + 1}.log" for i in range(args.processes)]
        processes: list[subprocess.Popen[bytes]] = []
        rows: list[Any] = []
        try:
            tokens, agent = await prepare(container, args.users, script)
            env = server_env(database, args.redis_url)
            ports = [free_port() for _ in range(args.processes)]
            for port, log in zip(ports, logs, strict=True):
                with log.open("wb") as out:
                    processes.append(start_server(port, env, out))
            servers = [f"127.0.0.1:{port}" for port in ports]
            async with httpx.AsyncClient() as http:
                await asyncio.gather(
                    *(wait_ready(http, s, p) for s, p in zip(servers, processes, strict=True))
                )
            gc.collect()
            gc.freeze()
            pids = [p.pid for p in processes] + [os.getpid()]
            cpu = [cpu_seconds(pid) for pid in pids]
            began = time.monotonic()
            stats = await drive(args, tokens, agent, servers)
            elapsed = time.monotonic() - began
            cpu = [(cpu_seconds(pid) - c) / elapsed for pid, c in zip(pids, cpu, strict=True)]
            rows = await drain(container, 30)
            peaks = [rss_kib(pid)[1] for pid in pids]
            exit_codes = [p.poll() for p in processes]
        except BaseException:
            print(f"the run did not finish; server logs in {workdir}", file=sys.stderr)
            raise
        finally:
            stop_servers(processes)
            try:
                if rows:
                    replies = [r.id for r in rows if r.role is MessageRole.ASSISTANT]
                    await forget_streams(args.redis_url, replies)
            finally:
                await container.close()
        measured = Measured(stats, rows, elapsed, peaks, cpu, exit_codes, *server_errors(logs))
        if measured.log_errors:
            measured.logs_kept = str(workdir)
        else:
            for log in logs:
                log.unlink(missing_ok=True)
            workdir.rmdir()
    return figures(args, measured)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The client's own collector pauses would show up as server latency.
    gc.set_threshold(50_000, 20, 20)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        out = runner(asyncio.wait_for(run(args), args.hard_limit))
    except TimeoutError:
        print(f"hard limit of {args.hard_limit:.0f} s reached: torn down", file=sys.stderr)
        return 3
    print(report(out))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
