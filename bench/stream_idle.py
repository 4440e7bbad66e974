"""The idle mode of the streaming benchmark (``stream_bench.py --idle N``): the memory
each open subscription costs while nothing flows, ours against the bare websocket.

- ``messageStream``: our server gets N replies started on a model whose first token
  is an hour away; once their runs wait on it, N followers subscribe to them, one
  connection each, get the events the streams hold so far, and wait.
- ``sessionUpdates``: on a fresh server, N connections subscribe to the session
  updates of their user (an idle chat tab), and wait.
- The bare server's N connections subscribe too, get one frame, and wait.

The cost of a subscription is the rise of the server's RSS high-water mark (reset
just before the subscriptions open) over its resident memory without them, divided
by N. They stay open past a reply's quiet period (``stream_end_grace_seconds``), so
what a quiet follower does then is counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.http_bench import free_port, start_server
from bench.stream_bench import STREAM, Client, reset_peak, rss_kib, send

IDLE_SCRIPT = "scripted?tokens=1&delay_ms=3600000"
SESSION_UPDATES = "subscription { sessionUpdates { __typename } }"
# Runs that wait an hour for their model must neither time out nor beat the
# database while the followers are measured.
IDLE_ENV = {
    "EZHR_CHAT__LLM_TIMEOUT_SECONDS": "7200",
    "EZHR_CHAT__HEARTBEAT_SECONDS": "3600",
    "EZHR_CHAT__STALE_AFTER_SECONDS": "7200",
}
BATCH = 50  # connections opened (or replies started) at once
Operation = tuple[str, dict[str, Any]]


async def settled_rss(pid: int, seconds: float = 2.0) -> int:
    """The process's resident memory once it has stopped moving for a while, in KiB."""
    previous, _ = rss_kib(pid)
    while True:
        await asyncio.sleep(seconds)
        current, _ = rss_kib(pid)
        if abs(current - previous) < 64:
            return current
        previous = current


class IdleClient(Client):
    async def _receive(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await self.ws.recv())
            if message["type"] != "ping":
                return message
            await self.ws.send('{"type":"pong"}')

    async def subscribe(self, query: str, variables: dict[str, Any]) -> None:
        """Subscribe, and wait for the first event, or for the server to have read
        the subscription when no event comes at once (a ping it answers after it)."""
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        if query == SESSION_UPDATES:
            await self.ws.send('{"type":"ping"}')
            expected = "pong"
        else:
            expected = "next"
        message = await self._receive()
        assert message["type"] == expected, message


async def hold(url: str, token: str, operations: list[Operation], pid: int, idle: float) -> int:
    """Open one idle subscription per operation, keep them ``idle`` seconds; the
    server's RSS high-water mark meanwhile, in KiB."""
    reset_peak(pid)
    clients = [IdleClient(url, token) for _ in operations]
    try:
        for start in range(0, len(clients), BATCH):
            part = list(zip(clients, operations, strict=True))[start : start + BATCH]
            await asyncio.gather(*(c.__aenter__() for c, _ in part))
            await asyncio.gather(*(c.subscribe(q, v) for c, (q, v) in part))
        deadline = time.monotonic() + idle
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 1.0))
        _, peak = rss_kib(pid)
    finally:
        await asyncio.gather(
            *(c.__aexit__() for c in clients if hasattr(c, "ws")), return_exceptions=True
        )
    return peak


async def followers(port: int, pid: int, data: dict[str, Any], args: argparse.Namespace) -> float:
    url, base, token = f"ws://127.0.0.1:{port}/graphql", f"http://127.0.0.1:{port}", data["token"]
    sessions = data["sessions"]["idle"][: args.idle]
    messages: list[str] = []
    async with httpx.AsyncClient(timeout=120) as http:
        for start in range(0, len(sessions), BATCH):
            part = sessions[start : start + BATCH]
            messages += await asyncio.gather(*(send(http, base, token, s) for s in part))
    before = await settled_rss(pid)
    operations = [(STREAM, {"id": m}) for m in messages]
    peak = await hold(url, token, operations, pid, args.idle_seconds)
    return (peak - before) / args.idle


async def tabs(port: int, pid: int, data: dict[str, Any], args: argparse.Namespace) -> float:
    url = f"ws://127.0.0.1:{port}/graphql"
    before = await settled_rss(pid)
    operations: list[Operation] = [(SESSION_UPDATES, {})] * args.idle
    peak = await hold(url, data["token"], operations, pid, args.idle_seconds)
    return (peak - before) / args.idle


async def bare(port: int, pid: int, data: dict[str, Any], args: argparse.Namespace) -> float:
    url = f"ws://127.0.0.1:{port}/ws"
    before = await settled_rss(pid)
    operations: list[Operation] = [("idle", {"tokens": 1})] * args.idle
    peak = await hold(url, "", operations, pid, args.idle_seconds)
    return (peak - before) / args.idle


Measure = Callable[[int, int, dict[str, Any], argparse.Namespace], Awaitable[float]]


def run(args: argparse.Namespace, data: dict[str, Any], env: dict[str, str]) -> None:
    """Each measurement on a server of its own, then the report."""
    ours = {**env, **IDLE_ENV}
    if args.redis_url:
        ours["EZHR_REDIS_URL"] = args.redis_url
    servers: list[tuple[str, str, dict[str, str], Measure]] = [
        ("messageStream (reply followers)", "ezhr_graphql.asgi:app", ours, followers),
        ("sessionUpdates (chat tabs)", "ezhr_graphql.asgi:app", ours, tabs),
        ("bare websocket", "bench.bare_ws:app", env, bare),
    ]
    results: dict[str, float] = {}
    for label, target, server_env, measure in servers:
        port = free_port()
        process = start_server(target, port, server_env)
        try:
            results[label] = asyncio.run(measure(port, process.pid, data, args))
        finally:
            stop(process)
    report(args, results)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server; one still closing a thousand connections and runs is killed."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def report(args: argparse.Namespace, results: dict[str, float], target: float = 100.0) -> None:
    broker = "Redis" if args.redis_url else "in-process"
    print(f"\n{args.idle} idle subscriptions held open {args.idle_seconds:.0f} s, {broker} broker")
    print(f"{'KiB per open subscription':34}{'KiB':>10}{'vs bare':>10}")
    bare_kib = results["bare websocket"]
    for label, kib in results.items():
        print(f"{label:34}{kib:>10.1f}{kib / max(bare_kib, 1e-9):>10.2f}")
    print("\ntargets:")
    for label, kib in results.items():
        if label != "bare websocket":
            print(f"  {'met' if kib <= target else 'NOT met':8} {label} <= {target:.0f} KiB")
