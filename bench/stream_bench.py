"""Streaming benchmark: ezhr-graphql's reply streams against a bare Starlette
websocket sending the same frames, in one run, one uvicorn worker each.

Measures, for both servers:
- tokens/s of one stream (an instant scripted LLM: the server is the bottleneck);
- 200 concurrent streams (an LLM paced at --pace tokens/s): tokens/s each and the
  p99 gap between events;
- time to first token (p50/p99) for `chat` (send + stream in one operation) with an
  instant LLM, and the same minus the bare server's time to first frame;
- peak memory per open subscription during the concurrent streams, their runs
  included (the rise of the server's RSS high-water mark, reset as they start).

With ``--idle N`` it measures only the memory of N idle open subscriptions (followers
of replies whose model has not answered yet, and idle chat tabs) against N idle bare
websockets; see bench/stream_idle.py.

    uv run python bench/stream_bench.py [--streams 200] [--tokens 300] [--pace 200]
    uv run python bench/stream_bench.py --idle 1000 [--idle-seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import (  # noqa: E402
    RATE_LIMITS_NEVER_HIT,
    SECRET,
    People,
    free_port,
    start_server,
)
from ezhr_graphql import migrations  # noqa: E402
from ezhr_graphql.container import Container  # noqa: E402
from ezhr_graphql.models import Role  # noqa: E402
from ezhr_graphql.settings import Environment, Settings  # noqa: E402
from tests.factories import make_agent, make_sessions  # noqa: E402

SEND = (
    "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { "
    "... on SentMessage { assistantMessage { id } } ... on UserError { code message } } }"
)
STREAM = (
    "subscription ($id: ID!) { messageStream(messageId: $id) { __typename "
    "... on ReplyDelta { seq text } ... on ReplyCompleted { seq } } }"
)
CHAT = (
    "subscription ($input: SendMessageInput!) { chat(input: $input) { __typename "
    "... on ReplyDelta { seq text } ... on ReplyCompleted { seq } } }"
)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process and its children, in KiB."""
    current = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return current, peak


def reset_peak(pid: int) -> None:
    """Reset a process's RSS high-water mark to its current RSS (Linux 4.0+), so that
    a peak measured next is this measurement's, not an earlier one's (the first reply
    a server generates peaks some tens of MiB above where it settles)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def prepare(settings: Settings, streams: int, scripts: dict[str, str]) -> dict[str, Any]:
    container = Container.build(settings)
    try:
        await migrations.upgrade_engine(container.db.engine)
        people = People(container)
        admin = await people.make(Role.ADMIN, "bench-admin@example.com")
        member = await people.make(Role.MEMBER, "bench-member@example.com")
        sessions: dict[str, list[str]] = {}
        for name, script in scripts.items():
            agent = await make_agent(container, admin, llm=script)  # type: ignore[arg-type]
            rows = await make_sessions(container, member, agent.id, streams)  # type: ignore[arg-type]
            sessions[name] = [str(r.id) for r in rows]
        return {"token": member.token, "sessions": sessions}
    finally:
        await container.close()


class Client:
    """One graphql-transport-ws connection that can carry one operation."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    async def __aenter__(self) -> Client:
        self.ws = await websockets.connect(
            self.url, subprotocols=["graphql-transport-ws"], compression=None, max_queue=None
        )
        await self.ws.send(
            json.dumps({"type": "connection_init", "payload": {"token": self.token}})
        )
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.ws.close()

    async def run(self, query: str, variables: dict[str, Any]) -> tuple[list[float], int, float]:
        """Event arrival times, tokens received, and when the operation was sent."""
        sent = time.perf_counter()
        await self.ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        arrivals: list[float] = []
        tokens = 0
        while True:
            message = json.loads(await self.ws.recv())
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
                continue
            if message["type"] == "complete":
                return arrivals, tokens, sent
            assert message["type"] == "next", message
            event = next(iter(message["payload"]["data"].values()))
            if event["__typename"] == "ReplyDelta":
                arrivals.append(time.perf_counter())
                tokens += len(event["text"].split())


async def send(http: httpx.AsyncClient, base: str, token: str, session_id: str) -> str:
    response = await http.post(
        f"{base}/graphql",
        json={
            "query": SEND,
            "variables": {
                "input": {
                    "sessionId": session_id,
                    "content": "How much annual leave do I get?",
                    "clientMessageId": str(uuid.uuid4()),
                }
            },
        },
        headers={"authorization": f"Bearer {token}"},
    )
    result = response.json()["data"]["sendMessage"]
    assert "assistantMessage" in result, result
    message_id: str = result["assistantMessage"]["id"]
    return message_id


async def measure_ezhr(
    port: int, pid: int, data: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    url, base, token = f"ws://127.0.0.1:{port}/graphql", f"http://127.0.0.1:{port}", data["token"]
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=60) as http:
        # One long stream, instant LLM: how fast can the server push a reply live?
        rates = []
        for session in data["sessions"]["long"][:5]:
            async with Client(url, token) as client:
                payload = {
                    "sessionId": session,
                    "content": "Leave?",
                    "clientMessageId": str(uuid.uuid4()),
                }
                arrivals, tokens, _ = await client.run(CHAT, {"input": payload})
            rates.append(tokens / max(arrivals[-1] - arrivals[0], 1e-6))
        out["one_stream_tokens_per_s"] = statistics.median(rates)

        # Time to first token for send + stream in one operation, instant LLM.
        ttft = []
        for session in data["sessions"]["instant"][5 : 5 + args.samples]:
            async with Client(url, token) as client:
                payload = {
                    "sessionId": session,
                    "content": "Leave?",
                    "clientMessageId": str(uuid.uuid4()),
                }
                arrivals, _, sent = await client.run(CHAT, {"input": payload})
            ttft.append((arrivals[0] - sent) * 1000)
        out["ttft_ms"] = (percentile(ttft, 0.5), percentile(ttft, 0.99))

        # Many concurrent streams with a paced LLM.
        reset_peak(pid)
        before, _ = rss_kib(pid)
        messages = await asyncio.gather(
            *(send(http, base, token, s) for s in data["sessions"]["paced"][: args.streams])
        )
        clients = [Client(url, token) for _ in messages]
        await asyncio.gather(*(c.__aenter__() for c in clients))
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        results = await asyncio.gather(
            *(c.run(STREAM, {"id": m}) for c, m in zip(clients, messages, strict=True))
        )
        out["server_cpu_share"] = (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
        _, peak = rss_kib(pid)
        await asyncio.gather(*(c.__aexit__() for c in clients))
    out.update(concurrent(results))
    out["kib_per_subscription"] = (peak - before) / args.streams
    return out


def concurrent(results: list[tuple[list[float], int, float]]) -> dict[str, Any]:
    # From subscribing to the last token: waiting for the first token counts against
    # a stream's rate.
    per_stream = [t / max(a[-1] - sent, 1e-6) for a, t, sent in results if a]
    gaps = [(b - a) * 1000 for arrivals, _, _ in results for a, b in itertools.pairwise(arrivals)]
    return {
        "concurrent_min_tokens_per_s": min(per_stream),
        "concurrent_median_tokens_per_s": statistics.median(per_stream),
        "concurrent_p99_gap_ms": percentile(gaps, 0.99),
    }


async def measure_bare(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/ws"
    out: dict[str, Any] = {}
    rates = []
    for _ in range(5):
        async with Client(url, "") as client:
            arrivals, tokens, _ = await client.run("instant", {"tokens": args.long_tokens})
        rates.append(tokens / max(arrivals[-1] - arrivals[0], 1e-6))
    out["one_stream_tokens_per_s"] = statistics.median(rates)
    ttft = []
    for _ in range(args.samples):
        async with Client(url, "") as client:
            arrivals, _, sent = await client.run("instant", {"tokens": 3})
        ttft.append((arrivals[0] - sent) * 1000)
    out["ttft_ms"] = (percentile(ttft, 0.5), percentile(ttft, 0.99))
    reset_peak(pid)
    before, _ = rss_kib(pid)
    clients = [Client(url, "") for _ in range(args.streams)]
    await asyncio.gather(*(c.__aenter__() for c in clients))
    results = await asyncio.gather(
        *(c.run("paced", {"tokens": args.tokens, "pace": args.pace}) for c in clients)
    )
    _, peak = rss_kib(pid)
    await asyncio.gather(*(c.__aexit__() for c in clients))
    out.update(concurrent(results))
    out["kib_per_subscription"] = (peak - before) / args.streams
    return out


def main() -> None:
    from bench import stream_idle  # it builds on this module

    # The load generator's own collector pauses would show up as gaps in the
    # streams it measures.
    gc.disable()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--pace", type=int, default=120, help="tokens/s of the paced LLM")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument(
        "--long-tokens", type=int, default=3000, help="tokens of the one-stream test"
    )
    parser.add_argument(
        "--idle", type=int, default=0, help="measure N idle subscriptions' memory only"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=8.0, help="how long idle subscriptions stay open"
    )
    parser.add_argument(
        "--redis-url", default=None, help="our server's broker (idle mode; default in-process)"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ezhr-stream-bench-"))
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(
        env=Environment.PRODUCTION,
        database={"url": url},  # type: ignore[arg-type]
        auth={"secret_key": SECRET},  # type: ignore[arg-type]
        chat={"allow_scripted_llm": True, "max_concurrent_runs_per_user": 100000},  # type: ignore[arg-type]
    )
    delay = max(1, round(1000 / args.pace))
    scripts = {
        "instant": f"scripted?tokens={args.tokens}",
        "paced": f"scripted?tokens={args.tokens}&delay_ms={delay}",
        "long": f"scripted?tokens={args.long_tokens}",
    }
    if args.idle:
        scripts = {"idle": stream_idle.IDLE_SCRIPT}
    count = args.idle or max(args.streams, 5 + args.samples)
    data = asyncio.run(prepare(settings, count, scripts))
    env = {
        **os.environ,
        "EZHR_ENV": "production",
        "EZHR_DATABASE__URL": url,
        "EZHR_AUTH__SECRET_KEY": SECRET,
        "EZHR_CHAT__ALLOW_SCRIPTED_LLM": "true",
        "EZHR_CHAT__MAX_CONCURRENT_RUNS_PER_USER": "100000",
        "EZHR_LOG_LEVEL": "WARNING",
        **RATE_LIMITS_NEVER_HIT,
        "PYTHONPATH": str(ROOT),
    }
    if args.idle:
        stream_idle.run(args, data, env)
        return
    results = {}
    for name, target in (
        ("ezhr", "ezhr_graphql.asgi:app"),
        ("bare-websocket", "bench.bare_ws:app"),
    ):
        port = free_port()
        process = start_server(target, port, env)
        try:
            if name == "ezhr":
                results[name] = asyncio.run(measure_ezhr(port, process.pid, data, args))
            else:
                results[name] = asyncio.run(measure_bare(port, process.pid, args))
        finally:
            process.terminate()
            process.wait(10)

    ours, bare = results["ezhr"], results["bare-websocket"]
    print(f"\n{args.streams} concurrent streams of {args.tokens} tokens,", end=" ")
    print(f"LLM paced at {args.pace} tokens/s")
    print(f"{'':34}{'ezhr':>14}{'bare websocket':>18}{'ratio':>9}")
    rows = [
        ("one stream, tokens/s", "one_stream_tokens_per_s"),
        ("concurrent, min tokens/s/stream", "concurrent_min_tokens_per_s"),
        ("concurrent, median tokens/s/stream", "concurrent_median_tokens_per_s"),
        ("concurrent, p99 gap ms", "concurrent_p99_gap_ms"),
        ("KiB per open subscription", "kib_per_subscription"),
    ]
    for label, key in rows:
        ratio = ours[key] / max(bare[key], 1e-9)
        print(f"{label:34}{ours[key]:>14.1f}{bare[key]:>18.1f}{ratio:>9.2f}")
    (o50, o99), (b50, b99) = ours["ttft_ms"], bare["ttft_ms"]
    print(f"{'time to first token p50/p99 ms':34}{o50:>7.2f}/{o99:<6.2f}{b50:>11.2f}/{b99:<6.2f}")
    print(f"server-added time to first token: p50 {o50 - b50:.2f} ms, p99 {o99 - b99:.2f} ms")
    print(f"server CPU during the concurrent streams: {ours['server_cpu_share']:.0%} of a core")
    print("\ntargets:")
    checks = [
        (
            "one stream >= 0.5x bare websocket",
            ours["one_stream_tokens_per_s"] >= 0.5 * bare["one_stream_tokens_per_s"],
        ),
        (
            f"{args.streams} streams each >= 100 tokens/s",
            ours["concurrent_min_tokens_per_s"] >= 100,
        ),
        ("p99 gap between events < 100 ms", ours["concurrent_p99_gap_ms"] < 100),
        ("server-added time to first token p50 < 5 ms", o50 - b50 < 5),
    ]
    for label, ok in checks:
        print(f"  {'met' if ok else 'NOT met':8} {label}")


if __name__ == "__main__":
    main()
