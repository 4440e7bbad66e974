"""What a run of bench/load.py shows: the figures, checked against the database,
and the printed report."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load_client import EXPECTED_ERRORS, Reply, Stats
from bench.stream_bench import percentile
from ezhr_graphql.models import MessageRole

# Strawberry logs an ERROR when a client is gone by the time a frame is sent to it:
# expected here, where clients drop their connections on purpose.
CLIENT_GONE = "WebSocketDisconnect"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def server_errors(logs: list[Path]) -> tuple[int, dict[str, int]]:
    """How many errors the servers logged, by kind (logger, message, exception)."""
    kinds: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                if record.get("level") not in ("ERROR", "CRITICAL"):
                    continue
                kind = f"{record.get('logger')}: {record.get('message')}"
                if record.get("exception"):
                    kind += f" ({record['exception'].strip().splitlines()[-1]})"
            elif "ERROR" in line or "CRITICAL" in line or "Traceback" in line:
                kind = line
            else:
                continue
            kinds[UUID.sub("<id>", kind)[:300]] += 1
    return sum(kinds.values()), dict(kinds.most_common())


@dataclass
class Measured:
    stats: Stats
    rows: list[Any]  # every stored message: id, role, status, content
    elapsed: float
    peaks: list[int]  # KiB: each server process, then this one
    cpu: list[float]  # share of a core while chatting, in the same order
    exit_codes: list[int | None]
    log_errors: int
    log_kinds: dict[str, int]
    logs_kept: str | None = None


def figures(args: argparse.Namespace, measured: Measured) -> dict[str, Any]:
    stats, rows, peaks = measured.stats, measured.rows, measured.peaks
    names = [f"server-{i + 1}" for i in range(args.processes)] + ["load-client"]
    stored = {str(r.id): r for r in rows}
    user_rows = {str(r.id) for r in rows if r.role is MessageRole.USER}
    reply_rows = {str(r.id) for r in rows if r.role is MessageRole.ASSISTANT}
    sent_user = {r.user_message_id for r in stats.replies}
    sent_replies = {r.message_id for r in stats.replies}
    statuses = Counter(stored[m].status.value for m in reply_rows)
    mismatches = {r.message_id for r in stats.replies if r.done and not _matches(r, stored)}
    ttft = [
        (r.first_delta_at - r.sent_at) * 1000 for r in stats.replies if r.first_delta_at is not None
    ]
    added = [t - args.delay_ms for t in ttft]
    send = [(r.answered_at - r.sent_at) * 1000 for r in stats.replies]
    errors = dict(sorted(stats.errors.items(), key=lambda item: -item[1]))
    unexpected = {k: v for k, v in errors.items() if k not in EXPECTED_ERRORS}
    out: dict[str, Any] = {
        "users": args.users,
        "processes": args.processes,
        "database": "sqlite" if args.database_url.startswith("sqlite") else "postgresql",
        "duration_s": round(measured.elapsed, 1),
        "tokens_per_reply": args.tokens,
        "model_first_token_delay_ms": args.delay_ms,
        "sessions_created": stats.sessions,
        "messages_sent": {"user": len(sent_user), "assistant": len(sent_replies)},
        "messages_stored": {"user": len(user_rows), "assistant": len(reply_rows)},
        "sent_not_stored": len((sent_user - user_rows) | (sent_replies - reply_rows)),
        "stored_not_sent": len((user_rows - sent_user) | (reply_rows - sent_replies)),
        "replies_by_status": dict(sorted(statuses.items())),
        "stuck_replies": statuses.get("STREAMING", 0),
        "events_received": stats.events,
        "events_lost": sum(r.lost() for r in stats.replies),
        "events_duplicated": sum(r.duplicated() for r in stats.replies),
        "unfinished_follows": stats.unfinished,
        "content_mismatches": len(mismatches),
        "problem_replies": [
            _problem(r, stored.get(r.message_id))
            for r in stats.replies
            if r.lost() or r.duplicated() or r.message_id in mismatches
        ][:10],
        "ttft_ms": _quantiles(ttft),
        "server_added_ttft_ms": _quantiles(added),
        "ttft_samples": len(ttft),
        "send_message_ms": _quantiles(send),
        "reconnects": stats.drops,
        "stops": stats.stops,
        "errors": errors,
        "unexpected_errors": unexpected,
        "server_log_errors": measured.log_errors,
        "server_log_errors_by_kind": measured.log_kinds,
        "server_log_errors_unexpected": sum(
            n for kind, n in measured.log_kinds.items() if CLIENT_GONE not in kind
        ),
        "server_logs_kept": measured.logs_kept,
        "server_exit_codes_before_teardown": measured.exit_codes,
        "peak_rss_mib": {n: round(kib / 1024, 1) for n, kib in zip(names, peaks, strict=True)},
        "cpu_share_of_a_core": {n: round(c, 2) for n, c in zip(names, measured.cpu, strict=True)},
    }
    out["ok"] = (
        out["events_lost"] == 0
        and out["events_duplicated"] == 0
        and out["content_mismatches"] == 0
        and out["stuck_replies"] == 0
        and out["sent_not_stored"] == 0
        and out["unfinished_follows"] == 0
    )
    return out


def _matches(reply: Reply, stored: dict[str, Any]) -> bool:
    """The client's text of a finished reply is what was stored (and what its final
    event said), and so is the status."""
    row = stored.get(reply.message_id)
    seen = "".join(reply.text)
    if row is None or row.content != seen or row.status.value != reply.status:
        return False
    return reply.content is None or reply.content == seen


def _problem(reply: Reply, row: Any) -> dict[str, Any]:
    seen = "".join(reply.text)
    return {
        "id": reply.message_id,
        "status_seen": reply.status,
        "status_stored": None if row is None else row.status.value,
        "lost": reply.lost(),
        "duplicated": reply.duplicated(),
        "final_seq": reply.final_seq,
        "tokens_seen": seen.count(" "),
        "tokens_stored": None if row is None else row.content.count(" "),
        "stored_equals_final_event": reply.content is None
        or row is None
        or reply.content == row.content,
    }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    return {"p50": round(percentile(values, 0.5), 1), "p99": round(percentile(values, 0.99), 1)}


def report(out: dict[str, Any]) -> str:
    sent, stored = out["messages_sent"], out["messages_stored"]
    ttft, added, send = out["ttft_ms"], out["server_added_ttft_ms"], out["send_message_ms"]
    memory = ", ".join(f"{name} {mib} MiB" for name, mib in out["peak_rss_mib"].items())
    cpu = ", ".join(f"{name} {share:.0%}" for name, share in out["cpu_share_of_a_core"].items())
    lines = [
        f"load: {out['users']} users, {out['processes']} processes, {out['duration_s']} s, "
        f"{out['database']} + redis; replies of {out['tokens_per_reply']} tokens, "
        f"model first-token delay {out['model_first_token_delay_ms']} ms",
        f"messages sent:       {sent['user']} questions, {sent['assistant']} replies "
        f"({out['sessions_created']} sessions)",
        f"messages stored:     {stored['user']} questions, {stored['assistant']} replies "
        f"(sent, not stored: {out['sent_not_stored']}; stored, not sent: "
        f"{out['stored_not_sent']})",
        "replies by status:   "
        + ", ".join(f"{k} {v}" for k, v in out["replies_by_status"].items()),
        f"stuck STREAMING:     {out['stuck_replies']}",
        f"events received:     {out['events_received']}",
        f"events lost:         {out['events_lost']}",
        f"events duplicated:   {out['events_duplicated']}",
        f"content mismatches:  {out['content_mismatches']}",
        *(f"    {problem}" for problem in out["problem_replies"]),
        f"unfinished follows:  {out['unfinished_follows']}",
        f"time to first token: p50 {ttft['p50']} ms, p99 {ttft['p99']} ms "
        f"(n={out['ttft_samples']}, from sendMessage to the first delta)",
        f"server-added TTFT:   p50 {added['p50']} ms, p99 {added['p99']} ms",
        f"sendMessage alone:   p50 {send['p50']} ms, p99 {send['p99']} ms",
        f"reconnects:          {out['reconnects']} (websocket dropped mid-stream)",
        f"stops:               {out['stops']}",
        "errors by code:      "
        + (
            ", ".join(
                f"{k} {v}" + (" (expected)" if k not in out["unexpected_errors"] else "")
                for k, v in out["errors"].items()
            )
            or "none"
        ),
        f"server log errors:   {out['server_log_errors']} "
        f"({out['server_log_errors_unexpected']} other than a client gone mid-send)",
        *(f"    {n} x {kind}" for kind, n in out["server_log_errors_by_kind"].items()),
        *([f"    logs kept in {out['server_logs_kept']}"] if out["server_logs_kept"] else []),
        f"peak RSS:            {memory}",
        f"CPU while chatting:  {cpu} of a core",
        f"result:              {'PASS' if out['ok'] else 'FAIL'}",
    ]
    return "\n".join(lines)
