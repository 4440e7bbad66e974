"""Liveness, readiness, metrics and structured logs."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest

from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from ezhr_graphql.observe.logs import JsonFormatter
from ezhr_graphql.settings import DatabaseSettings
from tests.conftest import GraphQLClient, PeopleFactory, make_settings
from tests.databases import DbUnderTest
from tests.factories import make_agent, make_sessions
from tests.test_replies import SEND


async def ready(client: httpx.AsyncClient) -> httpx.Response:
    """/readyz once the models have been looked at (loading takes a moment)."""
    for _ in range(200):
        response = await client.get("/readyz")
        if response.json().get("models") != "loading":
            return response
        await asyncio.sleep(0.05)
    return response


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    response = await ready(client)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "models": "loaded"}


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # A SQLite path inside a directory that does not exist cannot be opened.
    missing = tmp_path / "no" / "such" / "dir" / "ezhr.db"
    settings = make_settings(DbUnderTest(DatabaseSettings(url=f"sqlite+aiosqlite:///{missing}")))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
    await app.state.container.close()
    assert response.status_code == 503
    assert response.json()["database"] == "down"


async def test_readyz_reports_an_unreachable_redis(
    database: DbUnderTest, container: Container
) -> None:
    settings = make_settings(database, redis_url="redis://127.0.0.1:1/0")
    other = Container.build(settings)
    try:
        other.models_state = "loaded"
        report = await other.readiness()
    finally:
        await other.close()
    assert report == {
        "status": "unavailable",
        "database": "up",
        "redis": "down",
        "models": "loaded",
    }


async def test_metrics_count_operations_runs_and_tokens(
    client: httpx.AsyncClient, gql: GraphQLClient, people: PeopleFactory, container: Container
) -> None:
    admin = await people.admin()
    await gql.data("query AgentsForMetrics { agents { __typename } }", token=admin.token)
    agent = await make_agent(container, admin, llm="scripted?tokens=5")
    (session,) = await make_sessions(container, admin, agent.id, 1)
    await gql.data(
        SEND,
        {
            "input": {
                "sessionId": str(session.id),
                "content": "Count me",
                "clientMessageId": str(uuid.uuid4()),
            }
        },
        admin.token,
    )
    for _ in range(200):
        text = (await client.get("/metrics")).text
        if 'ezhr_runs_total{status="COMPLETED"}' in text:
            break
        await asyncio.sleep(0.05)
    assert response_line(text, "ezhr_graphql_operations_total", 'operation="AgentsForMetrics"')
    assert 'type="query"' in response_line(
        text, "ezhr_graphql_operations_total", "AgentsForMetrics"
    )
    assert response_line(text, "ezhr_graphql_operation_seconds_bucket", "AgentsForMetrics")
    assert response_line(text, "ezhr_tokens_streamed_total", "")
    assert response_line(text, "ezhr_llm_time_to_first_token_seconds_count", "")
    assert response_line(text, "ezhr_ingestion_queue_depth", "")
    assert "ezhr_subscriptions_open" in text
    assert "ezhr_runs_active" in text


def response_line(text: str, metric: str, contains: str) -> str:
    for line in text.splitlines():
        if line.startswith(metric) and contains in line:
            return line
    return ""


async def test_logs_are_json_with_context_and_no_secrets(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    caplog: pytest.LogCaptureFixture,
) -> None:
    member = await people.member()
    password = "correct-horse-battery-staple-9"
    await gql.data(
        "mutation ($i: RegisterInput!) { register(input: $i) { __typename } }",
        {"i": {"email": "logs@example.com", "password": password, "displayName": "Logs"}},
    )
    admin = await people.admin()
    agent = await make_agent(container, admin, llm="scripted?tokens=5")
    (session,) = await make_sessions(container, member, agent.id, 1)
    secret_question = "My salary is 123456 and my medical condition is private"
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            "/graphql",
            json={
                "query": SEND,
                "operationName": None,
                "variables": {
                    "input": {
                        "sessionId": str(session.id),
                        "content": secret_question,
                        "clientMessageId": "log-1",
                    }
                },
            },
            headers={"authorization": f"Bearer {member.token}", "x-request-id": "req-42"},
        )
        login = await client.post(
            "/graphql",
            json={
                "query": "mutation LogIn($e: String!, $p: String!) "
                "{ login(email: $e, password: $p) { __typename } }",
                "variables": {"e": "logs@example.com", "p": password},
            },
        )
        await asyncio.sleep(0.3)  # the reply runs in the background
    assert response.headers["x-request-id"] == "req-42"
    assert len(login.headers["x-request-id"]) == 32
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    requests = [line for line in lines if line["message"] == "request"]
    sent = next(line for line in requests if line.get("request_id") == "req-42")
    assert sent["user_id"] == str(member.id)
    assert sent["operation"] == "anonymous"
    assert sent["status"] == 200
    assert sent["duration_ms"] >= 0
    logged_in = next(line for line in requests if line.get("operation") == "LogIn")
    assert logged_in["path"] == "/graphql"
    everything = "\n".join(formatter.format(r) for r in caplog.records)
    for secret in (password, secret_question, member.token, "123456"):
        assert secret not in everything
