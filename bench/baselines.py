"""Baselines served beside ezhr-graphql in the HTTP benchmark, all from memory.

Each app answers the benchmark's documents with the same JSON our API returns, from
data the driver wrote to ``$BENCH_DATA``:

- ``starlette_app``: a bare Starlette JSON route (no GraphQL at all);
- ``graphql_core_app``: graphql-core over our own SDL, parsing and validating every
  request (no caches);
- ``strawberry_app``: a stock Strawberry app (``strawberry.asgi.GraphQL``, no
  extensions, no caches).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import strawberry
from graphql import build_schema, graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

DATA: dict[str, Any] = json.loads(Path(os.environ["BENCH_DATA"]).read_text(encoding="utf-8"))
SDL = Path(os.environ["BENCH_SDL"]).read_text(encoding="utf-8")


def _agents(first: int) -> dict[str, Any]:
    return {
        "__typename": "AgentConnection",
        "edges": [{"node": agent} for agent in DATA["agents"][:first]],
    }


def _sessions(first: int) -> dict[str, Any]:
    return {
        "__typename": "ChatSessionConnection",
        "edges": [{"node": session} for session in DATA["sessions"][:first]],
    }


# --- bare Starlette ---------------------------------------------------------


async def _json_route(request: Request) -> Response:
    body = json.loads(await request.body())
    query: str = body["query"]
    field = "agents" if "agents(" in query else "chatSessions"
    data = _agents(20) if field == "agents" else _sessions(50)
    return JSONResponse({"data": {field: data}})


starlette_app = Starlette(routes=[Route("/graphql", _json_route, methods=["POST"])])


# --- bare graphql-core ------------------------------------------------------

_core_schema = build_schema(SDL)


class _Root:
    @staticmethod
    def agents(_info: Any, first: int = 20, after: str | None = None) -> dict[str, Any]:
        return _agents(first)

    @staticmethod
    def chatSessions(
        _info: Any, first: int = 20, after: str | None = None, filter: Any = None
    ) -> dict[str, Any]:
        return _sessions(first)


async def _core_route(request: Request) -> Response:
    body = json.loads(await request.body())
    result = await graphql(
        _core_schema,
        body["query"],
        root_value=_Root,
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
    )
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    return JSONResponse(payload)


graphql_core_app = Starlette(routes=[Route("/graphql", _core_route, methods=["POST"])])


# --- stock Strawberry -------------------------------------------------------


@strawberry.type
class LlmModel:
    name: str


@strawberry.type
class Agent:
    id: strawberry.ID
    name: str
    description: str
    starter_messages: list[str]
    temperature: float
    top_k: int


@strawberry.type
class AgentEdge:
    node: Agent


@strawberry.type
class AgentConnection:
    edges: list[AgentEdge]


@strawberry.type
class ChatMessage:
    content: str


@strawberry.type
class SessionAgent:
    name: str


@strawberry.type
class ChatSession:
    id: strawberry.ID
    title: str
    pinned: bool
    agent: SessionAgent | None
    last_message: ChatMessage | None


@strawberry.type
class ChatSessionEdge:
    node: ChatSession


@strawberry.type
class ChatSessionConnection:
    edges: list[ChatSessionEdge]


@strawberry.type
class InvalidInput:
    field: str


AgentConnectionResult = Annotated[
    AgentConnection | InvalidInput, strawberry.union("AgentConnectionResult")
]
ChatSessionConnectionResult = Annotated[
    ChatSessionConnection | InvalidInput, strawberry.union("ChatSessionConnectionResult")
]


def _agent(raw: dict[str, Any]) -> Agent:
    return Agent(
        id=raw["id"],
        name=raw["name"],
        description=raw["description"],
        starter_messages=raw["starterMessages"],
        temperature=raw["temperature"],
        top_k=raw["topK"],
    )


def _session(raw: dict[str, Any]) -> ChatSession:
    return ChatSession(
        id=raw["id"],
        title=raw["title"],
        pinned=raw["pinned"],
        agent=SessionAgent(name=raw["agent"]["name"]),
        last_message=ChatMessage(content=raw["lastMessage"]["content"]),
    )


AGENTS = [_agent(a) for a in DATA["agents"]]
SESSIONS = [_session(s) for s in DATA["sessions"]]


@strawberry.type
class Query:
    @strawberry.field
    def agents(self, first: int = 20, after: str | None = None) -> AgentConnectionResult:
        return AgentConnection(edges=[AgentEdge(node=a) for a in AGENTS[:first]])

    @strawberry.field
    def chat_sessions(
        self, first: int = 20, after: str | None = None
    ) -> ChatSessionConnectionResult:
        return ChatSessionConnection(edges=[ChatSessionEdge(node=s) for s in SESSIONS[:first]])


strawberry_app = Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query)))])
