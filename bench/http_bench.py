"""HTTP benchmark: ezhr-graphql's full stack against bare baselines, in one run.

For ``agents(first: 20)`` and ``chatSessions(first: 50)`` it measures requests/s of:

- ``ezhr``: our app (bearer-token auth, a real database, DataLoaders, caches);
- ``strawberry-stock``: stock Strawberry, no caches, data in memory;
- ``graphql-core``: bare graphql-core over our SDL, data in memory;
- ``starlette-json``: a bare Starlette JSON route returning the same bytes' worth.

Each server runs alone as one uvicorn worker (uvloop, httptools, no access log) on
loopback; load comes from ``wrk`` when installed, else from a small asyncio client in
another process. Ratios compare servers within this run only.

    uv run python bench/http_bench.py [--seconds 5] [--connections 16]
        [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ezhr_graphql import migrations  # noqa: E402
from ezhr_graphql.container import Container  # noqa: E402
from ezhr_graphql.models import ChatMessage, MessageRole, Role  # noqa: E402
from ezhr_graphql.settings import Environment, Settings  # noqa: E402
from tests.factories import make_agent, make_sessions  # noqa: E402

SECRET = "benchmark-signing-key-0123456789-abcdefghijklmnop"
# Every benchmark client calls from 127.0.0.1, far more often than a person would:
# limits high enough never to refuse, so the limiter's cost is measured but not its
# refusals.
RATE_LIMITS_NEVER_HIT = {
    "EZHR_RATE_LIMIT__ENABLED": "true",
    "EZHR_RATE_LIMIT__REQUESTS_PER_MINUTE_PER_USER": "1000000",
    "EZHR_RATE_LIMIT__REQUESTS_PER_MINUTE_PER_ADDRESS": "100000000",
    "EZHR_RATE_LIMIT__WEBSOCKET_CONNECTS_PER_MINUTE_PER_ADDRESS": "1000000",
    "EZHR_RATE_LIMIT__RUNS_PER_MINUTE_PER_USER": "1000000",
    # Every benchmark client is one user at one address.
    "EZHR_RATE_LIMIT__WEBSOCKETS_PER_USER": "1000000",
    "EZHR_RATE_LIMIT__WEBSOCKETS_PER_ADDRESS": "1000000",
}

AGENTS_QUERY = (
    "query Agents { agents(first: 20) { ... on AgentConnection { edges { node { "
    "id name description starterMessages temperature topK } } } } }"
)
SESSIONS_QUERY = (
    "query Sessions { chatSessions(first: 50) { ... on ChatSessionConnection { edges { node { "
    "id title pinned agent { name } lastMessage { content } } } } } }"
)
QUERIES = {"agents(first: 20)": AGENTS_QUERY, "chatSessions(first: 50)": SESSIONS_QUERY}

SERVERS = {
    "ezhr": "ezhr_graphql.asgi:app",
    "strawberry-stock": "bench.baselines:strawberry_app",
    "graphql-core": "bench.baselines:graphql_core_app",
    "starlette-json": "bench.baselines:starlette_app",
}


@dataclass
class Person:
    id: Any
    email: str
    token: str


class People:
    def __init__(self, container: Container) -> None:
        self.container = container

    async def make(self, role: Role, email: str) -> Person:
        async with self.container.db.transaction() as session:
            signed = await self.container.services(session).users.register(
                email, "benchmark password", None, role
            )
        return Person(signed.user.id, signed.user.email, signed.token)


async def prepare(settings: Settings) -> str:
    """Migrate, fill the database, and return a member's bearer token."""
    container = Container.build(settings)
    try:
        await migrations.upgrade_engine(container.db.engine)
        people = People(container)
        admin = await people.make(Role.ADMIN, "bench-admin@example.com")
        member = await people.make(Role.MEMBER, "bench-member@example.com")
        agents = [await make_agent(container, admin) for _ in range(20)]  # type: ignore[arg-type]
        sessions = []
        for i in range(50):
            sessions += await make_sessions(container, member, agents[i % 20].id, 1)  # type: ignore[arg-type]
        async with container.db.transaction() as db:
            for s in sessions:
                db.add(
                    ChatMessage(session_id=s.id, role=MessageRole.USER, content="How much leave?")
                )
        return member.token
    finally:
        await container.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=1
            )
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def check(port: int, query: str, token: str) -> dict[str, Any]:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def wrk(port: int, query: str, token: str, seconds: float, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps({'query': query}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(out)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


async def _client(port: int, request: bytes, until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    while time.monotonic() < until:
        writer.write(request)
        length = 0
        while True:
            line = await reader.readline()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if line in (b"\r\n", b""):
                break
        await reader.readexactly(length)
        done += 1
    writer.close()
    counts.append(done)


def python_load(port: int, query: str, token: str, seconds: float, connections: int) -> float:
    body = json.dumps({"query": query}).encode()
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def run() -> float:
        counts: list[int] = []
        until = time.monotonic() + seconds
        start = time.monotonic()
        await asyncio.gather(*(_client(port, request, until, counts) for _ in range(connections)))
        return sum(counts) / (time.monotonic() - start)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    load = wrk if shutil.which("wrk") else python_load
    workdir = Path(tempfile.mkdtemp(prefix="ezhr-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(
        env=Environment.PRODUCTION,
        database={"url": url},  # type: ignore[arg-type]
        auth={"secret_key": SECRET},  # type: ignore[arg-type]
    )
    token = asyncio.run(prepare(settings))

    env = {
        **os.environ,
        "EZHR_ENV": "production",
        "EZHR_DATABASE__URL": url,
        "EZHR_AUTH__SECRET_KEY": SECRET,
        "EZHR_LOG_LEVEL": "WARNING",
        **RATE_LIMITS_NEVER_HIT,
        "BENCH_SDL": str(ROOT / "schema.graphql"),
        "BENCH_DATA": str(workdir / "data.json"),
        "PYTHONPATH": str(ROOT),
    }

    results: dict[tuple[str, str], float] = {}
    # Our server first: its answers become the baselines' data, so every server
    # returns the same document.
    for name, target in SERVERS.items():
        port = free_port()
        process = start_server(target, port, env)
        try:
            for label, query in QUERIES.items():
                body = check(port, query, token)
                if name == "ezhr":
                    data = (
                        json.loads(Path(env["BENCH_DATA"]).read_text())
                        if Path(env["BENCH_DATA"]).exists()
                        else {}
                    )
                    key = "agents" if "agents" in label else "sessions"
                    field = "agents" if key == "agents" else "chatSessions"
                    data[key] = [e["node"] for e in body["data"][field]["edges"]]
                    Path(env["BENCH_DATA"]).write_text(json.dumps(data))
                load(port, query, token, 1, args.connections)  # warm-up
                results[(name, label)] = load(port, query, token, args.seconds, args.connections)
        finally:
            process.terminate()
            process.wait(10)

    print(
        f"\nload: {load.__name__}, {args.connections} connections, {args.seconds}s per run; "
        f"database: {url.split('://')[0]}"
    )
    print(f"{'server':<18}" + "".join(f"{label:>26}" for label in QUERIES))
    for name in SERVERS:
        print(
            f"{name:<18}" + "".join(f"{results[(name, label)]:>20.0f} req/s" for label in QUERIES)
        )
    print("\nratios (ezhr / baseline):")
    for name in list(SERVERS)[1:]:
        print(
            f"  ezhr / {name:<16}"
            + "".join(
                f"{results[('ezhr', label)] / results[(name, label)]:>26.2f}" for label in QUERIES
            )
        )
    target = (
        results[("ezhr", "agents(first: 20)")] / results[("strawberry-stock", "agents(first: 20)")]
    )
    verdict = "met" if target >= 1 else "NOT met"
    print(f"\ntarget ezhr >= strawberry-stock on agents(first: 20): {target:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
