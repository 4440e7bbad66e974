"""The load script (bench/load.py) at a small size: users chatting against two server
processes sharing the test database and Redis, with dropped connections and stops
mixed in, lose no event, repeat none, and store what they were shown."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bench.load_client import Reply
from ezhr_graphql.pubsub import StreamEvent
from ezhr_graphql.pubsub.redis import RedisBroker
from tests.conftest import ROOT
from tests.databases import POSTGRES_URL


def _delta(seq: int, tokens: int) -> dict[str, object]:
    return {"__typename": "ReplyDelta", "seq": seq, "text": "word " * tokens}


def _completed(seq: int, content: str) -> dict[str, object]:
    message = {"status": "COMPLETED", "content": content}
    return {"__typename": "ReplyCompleted", "seq": seq, "message": message}


def test_a_reply_seen_whole_counts_nothing_lost_or_repeated() -> None:
    reply = Reply("question", "reply", sent_at=0.0, answered_at=0.0)
    for event in (
        {"__typename": "ReplyStarted", "seq": 1},
        _delta(3, 2),  # two tokens merged: seqs 2 and 3
        _delta(4, 1),
        _completed(5, "word " * 3),
    ):
        reply.see(event, now=1.0)

    assert reply.done
    assert (reply.lost(), reply.duplicated()) == (0, 0)


def test_gaps_and_repeats_across_a_reconnect_are_counted() -> None:
    reply = Reply("question", "reply", sent_at=0.0, answered_at=0.0)
    for event in (
        {"__typename": "ReplyStarted", "seq": 1},
        _delta(2, 1),
        _delta(3, 1),
        # Resumed after seq 3, the server sends seq 3 again and skips seq 5.
        _delta(4, 2),
        _delta(6, 1),
        _completed(7, "word " * 5),
    ):
        reply.see(event, now=1.0)

    assert reply.lost() == 1
    assert reply.duplicated() == 1


async def test_a_burst_of_appends_waits_for_redis_connections(redis_url: str) -> None:
    # Found by the load run: past 100 commands in flight, redis-py's default pool
    # failed appends ("Too many connections"), failing replies mid-stream.
    broker = RedisBroker(redis_url)
    streams = [f"test:load:{uuid.uuid4()}" for _ in range(300)]
    try:
        await asyncio.gather(*(broker.append(s, StreamEvent(1, "completed", {})) for s in streams))
        assert [(await broker.last(s)) is not None for s in streams] == [True] * 300
    finally:
        await broker.redis.delete(*(broker._key(s) for s in streams))
        await broker.close()


def test_users_chatting_on_two_processes_lose_and_repeat_nothing(
    tmp_path: Path, redis_url: str
) -> None:
    figures_file = tmp_path / "load.json"
    command = [
        sys.executable, "bench/load.py", "--users", "20", "--duration", "8",
        "--processes", "2", "--database-url", POSTGRES_URL or "sqlite",
        "--redis-url", redis_url, "--drop-rate", "0.3", "--stop-rate", "0.2",
        "--json", str(figures_file),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("EZHR_")}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150, check=False
    )
    assert figures_file.exists(), result.stderr[-3000:]
    figures = json.loads(figures_file.read_text(encoding="utf-8"))
    report = result.stdout

    assert figures["messages_sent"]["user"] > 20, report
    assert figures["messages_sent"] == figures["messages_stored"], report
    assert (figures["sent_not_stored"], figures["stored_not_sent"]) == (0, 0), report
    assert figures["events_lost"] == 0, report
    assert figures["events_duplicated"] == 0, report
    assert figures["content_mismatches"] == 0, report
    assert figures["stuck_replies"] == 0, report
    assert figures["unfinished_follows"] == 0, report
    assert figures["unexpected_errors"] == {}, report
    assert figures["server_log_errors_unexpected"] == 0, report
    # The faults were really mixed in.
    assert figures["reconnects"] > 0, report
    assert figures["stops"] > 0, report
    assert figures["replies_by_status"].get("CANCELLED", 0) > 0, report
    assert set(figures["replies_by_status"]) <= {"COMPLETED", "CANCELLED"}, report
    assert result.returncode == 0, report + result.stderr[-3000:]
