"""The simulated users of ``bench/load.py``: each one chats in a loop until a
deadline, over HTTP mutations and graphql-transport-ws subscriptions, and records
every event it sees.

A user keeps at most one websocket per server process. Per message it sends on a
random process and follows the reply on a random process; some follows drop the
websocket mid-stream (no close frame, as a lost network would) and resume on a
random process with ``afterSeq`` = the last seq seen; some stop the reply
mid-stream.

Counting events works because of the scripted model (``ezhr_graphql.rag.scripted``):
every token is one word and a space, and a delta that merges n tokens carries the
seq of its last one, so a delta of text t with seq s stands for seqs
``s - t.count(" ") + 1 .. s``. A reply's events then cover ``1..final seq``
exactly once when nothing was lost or repeated.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

SESSION = (
    "mutation ($input: CreateChatSessionInput!) { createChatSession(input: $input) { "
    "__typename ... on ChatSession { id } ... on UserError { code message } } }"
)
SEND = (
    "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { __typename "
    "... on SentMessage { userMessage { id } assistantMessage { id } } "
    "... on UserError { code message } } }"
)
STOP = (
    "mutation ($id: ID!) { stopGeneration(messageId: $id) { __typename "
    "... on UserError { code message } } }"
)
STREAM = (
    "subscription ($id: ID!, $after: Int) { messageStream(messageId: $id, afterSeq: $after) { "
    "__typename ... on ReplyStarted { seq } ... on ReplyDelta { seq text } "
    "... on ReplyCitations { seq } ... on ReplyCompleted { seq message { status content } } "
    "... on ReplyFailed { seq code } } }"
)
TERMINAL = ("ReplyCompleted", "ReplyFailed")
# A stop that arrives as the reply ends finds nothing to stop: expected, not a fault.
EXPECTED_ERRORS = frozenset({"stopGeneration union:CONFLICT"})


@dataclass
class Behaviour:
    tokens: int  # the scripted reply's length
    drop_rate: float
    stop_rate: float
    think: tuple[float, float]  # seconds between a reply's end and the next question
    ramp: float  # users start spread over this many seconds
    messages_per_session: int
    receive_timeout: float


@dataclass
class Reply:
    """What the client saw of one reply, across all its connections."""

    user_message_id: str
    message_id: str
    sent_at: float
    answered_at: float  # sendMessage returned
    first_delta_at: float | None = None
    covered: Counter[int] = field(default_factory=Counter)
    last_seq: int = 0
    text: list[str] = field(default_factory=list)
    final_seq: int | None = None
    status: str | None = None  # COMPLETED / CANCELLED from ReplyCompleted, else FAILED
    content: str | None = None  # as ReplyCompleted carries it
    failed_code: str | None = None

    @property
    def done(self) -> bool:
        return self.final_seq is not None

    def see(self, event: dict[str, Any], now: float) -> None:
        seq = int(event["seq"])
        kind = event["__typename"]
        span = 1
        if kind == "ReplyDelta":
            self.text.append(event["text"])
            span = max(1, event["text"].count(" "))
            if self.first_delta_at is None:
                self.first_delta_at = now
        self.covered.update(range(seq - span + 1, seq + 1))
        self.last_seq = max(self.last_seq, seq)
        if kind == "ReplyCompleted":
            self.final_seq = seq
            self.status = event["message"]["status"]
            self.content = event["message"]["content"]
        elif kind == "ReplyFailed":
            self.final_seq = seq
            self.status = "FAILED"
            self.failed_code = event["code"]

    def lost(self) -> int:
        if self.final_seq is None:
            return 0
        return sum(1 for seq in range(1, self.final_seq + 1) if seq not in self.covered)

    def duplicated(self) -> int:
        return sum(count - 1 for count in self.covered.values() if count > 1)


@dataclass
class Stats:
    replies: list[Reply] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    events: int = 0
    drops: int = 0
    stops: int = 0
    unfinished: int = 0  # follows given up without a final event


class _Reconnect(Exception):
    pass


class Socket:
    """One graphql-transport-ws connection, carrying one subscription at a time."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, url: str, token: str, timeout: float) -> Socket:
        ws = await websockets.connect(
            url,
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            compression=None,
            max_queue=None,
            open_timeout=timeout,
            ping_interval=None,
        )
        socket = cls(ws)
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            ack = await socket.receive(timeout)
            if ack["type"] != "connection_ack":
                raise ConnectionError(f"no connection_ack: {ack}")
        except BaseException:
            socket.abort()
            raise
        return socket

    async def subscribe(self, query: str, variables: dict[str, Any]) -> str:
        op = str(next(self._ids))
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        return op

    async def receive(self, timeout: float) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
            elif message["type"] != "pong":
                return message

    def abort(self) -> None:
        """Drop the connection without a close frame, like a lost network."""
        self.ws.transport.abort()

    async def close(self) -> None:
        await self.ws.close()


def _codes(errors: list[dict[str, Any]]) -> list[str]:
    return [(e.get("extensions") or {}).get("code", "UNCODED") for e in errors]


class User:
    def __init__(
        self,
        token: str,
        agent_id: str,
        servers: list[str],
        http: httpx.AsyncClient,
        stats: Stats,
        behaviour: Behaviour,
        seed: int,
    ) -> None:
        self.token = token
        self.agent_id = agent_id
        self.servers = servers  # "127.0.0.1:port"
        self.http = http
        self.stats = stats
        self.behaviour = behaviour
        self.rng = random.Random(seed)
        self.sockets: dict[int, Socket] = {}

    async def run(self, deadline: float) -> None:
        """Chat until ``deadline`` (event loop time); the reply in progress then
        finishes."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.rng.uniform(0, self.behaviour.ramp))
        session: str | None = None
        asked = 0
        try:
            while loop.time() < deadline:
                if session is None or asked >= self.behaviour.messages_per_session:
                    session, asked = await self.new_session(), 0
                    if session is None:
                        await asyncio.sleep(1)
                        continue
                asked += 1
                if not await self.ask(session):
                    session = None  # its reply may still be running: go elsewhere
                await asyncio.sleep(self.rng.uniform(*self.behaviour.think))
        finally:
            for socket in self.sockets.values():
                socket.abort()
            self.sockets.clear()

    async def mutate(
        self, operation: str, query: str, variables: dict[str, Any], retries: int = 0
    ) -> dict[str, Any] | None:
        """The operation's result on a random process; ``None`` (and the error
        counted) when it failed. Transport failures and 5xx are retried as a client
        would, with the same variables."""
        for _ in range(retries + 1):
            base = self.servers[self.rng.randrange(len(self.servers))]
            try:
                response = await self.http.post(
                    f"http://{base}/graphql",
                    json={"query": query, "variables": variables},
                    headers={"authorization": f"Bearer {self.token}"},
                )
            except httpx.HTTPError as exc:
                self.stats.errors[f"{operation} transport:{type(exc).__name__}"] += 1
                continue
            if response.status_code >= 500:
                self.stats.errors[f"{operation} http:{response.status_code}"] += 1
                continue
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code != 200 and not body.get("errors"):
                self.stats.errors[f"{operation} http:{response.status_code}"] += 1
                return None
            if body.get("errors"):
                for code in _codes(body["errors"]):
                    self.stats.errors[f"{operation} graphql:{code}"] += 1
                return None
            result: dict[str, Any] = body["data"][operation]
            if "code" in result:
                self.stats.errors[f"{operation} union:{result['code']}"] += 1
                return None
            return result
        return None

    async def new_session(self) -> str | None:
        result = await self.mutate(
            "createChatSession", SESSION, {"input": {"agentId": self.agent_id}}
        )
        if result is None:
            return None
        self.stats.sessions += 1
        session_id: str = result["id"]
        return session_id

    async def socket(self, server: int) -> Socket:
        if server not in self.sockets:
            url = f"ws://{self.servers[server]}/graphql"
            self.sockets[server] = await Socket.open(
                url, self.token, self.behaviour.receive_timeout
            )
        return self.sockets[server]

    def forget(self, server: int) -> None:
        socket = self.sockets.pop(server, None)
        if socket is not None:
            socket.abort()

    async def ask(self, session: str) -> bool:
        """Send one question and follow its reply to the end; false if that failed."""
        server = self.rng.randrange(len(self.servers))
        try:
            await self.socket(server)  # opened before the clock starts
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ConnectionError) as exc:
            self.stats.errors[f"messageStream connect:{type(exc).__name__}"] += 1
            self.forget(server)
            return False
        variables = {
            "input": {
                "sessionId": session,
                "content": f"How many days of leave do I get in year {self.rng.randrange(100)}?",
                "clientMessageId": str(uuid.uuid4()),
            }
        }
        sent_at = time.perf_counter()
        sent = await self.mutate("sendMessage", SEND, variables, retries=1)
        if sent is None:
            return False
        reply = Reply(
            sent["userMessage"]["id"], sent["assistantMessage"]["id"], sent_at, time.perf_counter()
        )
        self.stats.replies.append(reply)
        await self.follow(reply, server)
        if not reply.done:
            self.stats.unfinished += 1
        return reply.done

    async def follow(self, reply: Reply, server: int) -> None:
        """Follow ``reply`` until its final event, dropping the connection and
        stopping the reply at random points."""
        b = self.behaviour
        drop_at = self.rng.randint(2, b.tokens) if self.rng.random() < b.drop_rate else None
        stop_at = self.rng.randint(2, b.tokens) if self.rng.random() < b.stop_rate else None
        stopping: asyncio.Task[Any] | None = None
        failures = 0
        while not reply.done and failures <= 3:
            try:
                socket = await self.socket(server)
                op = await socket.subscribe(
                    STREAM, {"id": reply.message_id, "after": reply.last_seq}
                )
                while True:
                    message = await socket.receive(b.receive_timeout)
                    if message.get("id") != op:
                        continue
                    if message["type"] == "complete":
                        break
                    if message["type"] == "error" or message["payload"].get("errors"):
                        errors = message["payload"]
                        errors = errors if isinstance(errors, list) else errors["errors"]
                        for code in _codes(errors):
                            self.stats.errors[f"messageStream graphql:{code}"] += 1
                        if message["type"] == "error":
                            break
                        continue
                    self.stats.events += 1
                    reply.see(message["payload"]["data"]["messageStream"], time.perf_counter())
                    if reply.done:
                        continue  # the server completes the operation next
                    if stop_at is not None and stopping is None and reply.last_seq >= stop_at:
                        self.stats.stops += 1
                        stopping = asyncio.create_task(
                            self.mutate("stopGeneration", STOP, {"id": reply.message_id})
                        )
                    if drop_at is not None and reply.last_seq >= drop_at:
                        drop_at = None
                        self.stats.drops += 1
                        self.forget(server)
                        await asyncio.sleep(self.rng.uniform(0, 0.1))
                        server = self.rng.randrange(len(self.servers))
                        raise _Reconnect
                if not reply.done:
                    failures += 1  # completed without a final event
                    self.stats.errors["messageStream ended-early"] += 1
            except _Reconnect:
                continue
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                self.stats.errors[f"messageStream ws-close:{code}"] += 1
            except TimeoutError:
                self.stats.errors["messageStream timeout"] += 1
            except (OSError, InvalidHandshake, ConnectionError) as exc:
                self.stats.errors[f"messageStream connect:{type(exc).__name__}"] += 1
            else:
                continue
            # The connection is in an unknown state: resume on a fresh one.
            failures += 1
            self.forget(server)
            server = self.rng.randrange(len(self.servers))
        if reply.failed_code is not None:
            self.stats.errors[f"ReplyFailed:{reply.failed_code}"] += 1
        if stopping is not None:
            await stopping
