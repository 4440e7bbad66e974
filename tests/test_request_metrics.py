"""The request counter's ``method`` label takes a fixed set of values: under h11 a
client may send any token as the method, and each distinct label value would be a
series every scrape carries for as long as the process lives."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from ezhr_graphql.api.transport.observe import RequestContext, method_label
from ezhr_graphql.observe.metrics import exposition

REQUESTS = "ezhr_http_requests_total{"
METHODS = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "WS", "other"}


async def not_allowed(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 405, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def request(method: str) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/graphql",
        "headers": [],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    await RequestContext(not_allowed)(scope, receive, send)


def methods() -> set[str]:
    """The method labels of the request counter, as scraped."""
    text = exposition()[0].decode()
    lines = [line for line in text.splitlines() if line.startswith(REQUESTS)]
    return {line.split('method="')[1].split('"')[0] for line in lines}


def count(method: str) -> float:
    text = exposition()[0].decode()
    prefix = f'{REQUESTS}method="{method}",status="4xx"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


async def test_unknown_methods_share_one_label(caplog: pytest.LogCaptureFixture) -> None:
    marker = uuid.uuid4().hex[:8].upper()
    others_before, gets_before = count("other"), count("GET")
    strange = [f"FOO{marker}{i}" for i in range(20)]
    strange += ["X-" + "A" * 10_000, "get", "CONNECT", "TRACE", "PROPFIND", ""]
    with caplog.at_level(logging.INFO, "ezhr_graphql.requests"):
        for method in strange:
            await request(method)
        await request("GET")
    assert methods() <= METHODS, methods() - METHODS
    assert count("other") == others_before + len(strange)
    assert count("GET") == gets_before + 1
    # The request line names the method, cut short.
    logged = [getattr(r, "method", "") for r in caplog.records]
    assert f"FOO{marker}0" in logged
    assert all(len(method) <= 32 for method in logged)


@pytest.mark.parametrize("method", sorted(METHODS - {"WS", "other"}))
async def test_each_known_method_is_its_own_label(method: str) -> None:
    before = count(method)
    await request(method)
    assert count(method) == before + 1


def test_a_websocket_is_labelled_ws() -> None:
    assert method_label({"type": "websocket", "path": "/graphql"}) == "WS"
    assert method_label({"type": "http", "method": "POST"}) == "POST"
    assert method_label({"type": "http", "method": "BREW"}) == "other"
