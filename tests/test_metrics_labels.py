"""/metrics stays small whatever operation names clients choose: only known names
label a series, and the exposition is built off the event loop."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse
from starlette.applications import Starlette

from ezhr_graphql.api.graphql.observe import (
    ANONYMOUS,
    NAMES_PER_USER,
    OTHER,
    OperationLabels,
    logged_name,
)
from ezhr_graphql.api.guards.persisted import sha256_hex
from ezhr_graphql.api.transport import metrics as metrics_module
from ezhr_graphql.app import create_app
from ezhr_graphql.observe.logs import JsonFormatter
from tests.conftest import PeopleFactory, make_settings
from tests.databases import DbUnderTest

OPERATIONS = "ezhr_graphql_operations_total{"


def series(text: str) -> set[str]:
    """The label sets of the operations counter in an exposition."""
    return {line.split("}")[0] for line in text.splitlines() if line.startswith(OPERATIONS)}


def named(name: str) -> dict[str, Any]:
    return {"query": f"query {name} {{ viewer {{ email }} }}", "operationName": name}


async def post(
    client: httpx.AsyncClient, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await client.post("/graphql", json=body, headers=headers)


@asynccontextmanager
async def served(database: DbUnderTest, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = create_app(make_settings(database, **overrides))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await app.state.container.close()


async def test_long_anonymous_operation_names_leave_metrics_small(
    client: httpx.AsyncClient,
) -> None:
    before = series((await client.get("/metrics")).text)
    marker = uuid.uuid4().hex
    for i in range(100):
        response = await post(client, named(f"N{marker}{i}" + "x" * 5_000))
        assert response.status_code == 200
    response = await client.get("/metrics")
    assert marker not in response.text
    added = series(response.text) - before
    assert len(added) <= 2, added  # other / query / ok, at most once more
    assert all('operation="other"' in labels for labels in added)


async def test_a_signed_in_callers_named_operation_is_labelled_by_its_name(
    client: httpx.AsyncClient, people: PeopleFactory
) -> None:
    member = await people.member()
    name = f"Viewer{uuid.uuid4().hex}"
    long_name = "L" + uuid.uuid4().hex + "x" * 100  # over 64 characters
    # A name the document does not hold is the client's word only.
    stray = {"query": "query Real { viewer { email } }", "operationName": f"S{uuid.uuid4().hex}"}
    for body in (named(name), named(long_name), stray):
        assert (await post(client, body, member.token)).status_code in (200, 400)
    text = (await client.get("/metrics")).text
    assert f'operation="{name}",outcome="ok",type="query"' in text
    assert long_name not in text
    assert stray["operationName"] not in text


async def test_names_beyond_the_cap_are_labelled_other(
    database: DbUnderTest, people: PeopleFactory
) -> None:
    member = await people.member()
    names = [f"Capped{uuid.uuid4().hex}" for _ in range(4)]
    async with served(database, graphql={"metrics_operation_names": 2}) as client:
        before = series((await client.get("/metrics")).text)
        for name in names:
            assert (await post(client, named(name), member.token)).status_code == 200
        # A name already known keeps its label, even asked for anonymously.
        assert (await post(client, named(names[0]))).status_code == 200
        text = (await client.get("/metrics")).text
    first = f'{OPERATIONS}operation="{names[0]}",outcome="ok",type="query"}} 2.0'
    assert first in text
    assert f'operation="{names[1]}"' in text
    assert names[2] not in text
    assert names[3] not in text
    assert {labels for labels in series(text) - before if "Capped" not in labels} <= {
        'ezhr_graphql_operations_total{operation="other",outcome="ok",type="query"'
    }


async def test_one_user_teaches_only_a_few_names(
    database: DbUnderTest, people: PeopleFactory
) -> None:
    squatter, admin, member = await people.member(), await people.admin(), await people.member()
    marker = uuid.uuid4().hex
    junk = [f"Junk{marker}n{i}" for i in range(50)]
    chatty = [f"Admin{marker}n{i}" for i in range(10)]
    real = f"Real{marker}"
    async with served(database) as client:  # the default cap (200) is far from full
        for name in junk:
            assert (await post(client, named(name), squatter.token)).status_code == 200
        # Administrators teach no more than anyone.
        for name in chatty:
            assert (await post(client, named(name), admin.token)).status_code == 200
        # Another member's name is labelled still.
        assert (await post(client, named(real), member.token)).status_code == 200
        text = (await client.get("/metrics")).text
    assert sum(f'operation="{name}"' in text for name in junk) == NAMES_PER_USER
    assert sum(f'operation="{name}"' in text for name in chatty) == NAMES_PER_USER
    assert f'{OPERATIONS}operation="{real}",outcome="ok",type="query"}} 1.0' in text


async def test_the_names_per_user_are_a_setting(
    database: DbUnderTest, people: PeopleFactory
) -> None:
    member = await people.member()
    names = [f"PerUser{uuid.uuid4().hex}" for _ in range(3)]
    async with served(database, graphql={"metrics_operation_names_per_user": 1}) as client:
        for name in names:
            assert (await post(client, named(name), member.token)).status_code == 200
        text = (await client.get("/metrics")).text
    assert [f'operation="{name}"' in text for name in names] == [True, False, False]


def test_it_takes_many_accounts_to_fill_the_labels() -> None:
    labels = OperationLabels(cap=20)
    users = [uuid.uuid4() for _ in range(5)]
    taught = [
        labels.label(f"N{u.hex}{i}", parse(f"query N{u.hex}{i} {{ __typename }}"), user=u)
        for u in users
        for i in range(10)
    ]
    # Each user's first five; the fifth user finds the table full.
    assert [t != OTHER for t in taught] == ([True] * 5 + [False] * 5) * 4 + [False] * 10
    # Names taught stay labelled for everyone, anonymous callers included.
    assert labels.label(taught[0], None, user=None) == taught[0]
    # Only signed-in callers teach, and only names that are well formed and of the document.
    fresh = OperationLabels(cap=20)
    assert fresh.label("Q", parse("query Q { __typename }"), user=None) == OTHER
    assert fresh.label("Q", parse("query R { __typename }"), user=users[0]) == OTHER
    assert fresh.label("Q", parse("query Q { __typename }"), user=users[0]) == "Q"


@pytest.mark.parametrize("name", [5, True, ["A"], {"a": "A"}, 1.5])
def test_names_that_are_not_strings_are_other(name: object) -> None:
    # The gate refuses them; should one slip through, logs and metrics still cope.
    assert logged_name(name) == OTHER
    labels = OperationLabels(cap=20, known=["A"])
    assert labels.label(name, parse("query A { __typename }"), user=uuid.uuid4()) == OTHER
    assert logged_name(None) == logged_name("") == ANONYMOUS


async def test_allowlist_manifest_names_label_anonymous_operations(
    database: DbUnderTest, tmp_path: Path
) -> None:
    name = f"Manifest{uuid.uuid4().hex}"
    document = f"query {name} {{ viewer {{ email }} }}"
    digest = sha256_hex(document)
    manifest = tmp_path / "persisted.json"
    manifest.write_text(json.dumps({digest: document}), encoding="utf-8")
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    graphql = {
        "persisted_queries": "allowlist",
        "persisted_queries_file": str(manifest),
        "metrics_operation_names": 0,  # the manifest's names do not count against it
    }
    async with served(database, graphql=graphql) as client:
        response = await post(client, {"extensions": persisted})
        assert response.json() == {"data": {"viewer": None}}
        text = (await client.get("/metrics")).text
    assert f'operation="{name}",outcome="ok",type="query"' in text


async def test_logs_carry_a_truncated_operation_name(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    name = "Long" + "x" * 20_000
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/graphql", json=named(name), headers={"x-request-id": "long-name-1"}
        )
    assert response.status_code == 200
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    (line,) = [
        x for x in lines if x.get("request_id") == "long-name-1" and x["message"] == "request"
    ]
    assert line["operation"].startswith("Longxxx")
    assert len(line["operation"]) <= 100
    assert all(len(formatter.format(r)) < 2_000 for r in caplog.records)


async def test_metrics_are_built_off_the_event_loop(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    built = metrics_module.exposition

    def exposition() -> tuple[bytes, str]:
        threads.append(threading.current_thread())
        return built()

    monkeypatch.setattr(metrics_module, "exposition", exposition)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "ezhr_graphql_operations_total" in response.text
    assert threads
    assert threads[0] is not threading.main_thread()
