"""GraphiQL in a real browser (headless Chromium): the page loads from this server alone,
signs in, queries over HTTP and streams a reply over a websocket.

The browser is the system's Chromium (Debian's ``chromium`` package), never one
downloaded by Playwright; ``EZHR_CHROMIUM`` points at another binary. Without one, the
browser tests skip with one line (and fail in CI: see tests/tools.py). The screenshot
goes to ``$EZHR_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the repository).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright

from ezhr_graphql.api.transport.graphiql import ASSETS_PATH, SCRIPTS, STYLESHEETS
from ezhr_graphql.app import create_app
from ezhr_graphql.container import Container
from tests.conftest import ROOT, PeopleFactory, make_settings
from tests.databases import DbUnderTest
from tests.factories import make_agent, make_sessions
from tests.tools import need

CHROMIUM = os.environ.get("EZHR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"  # what the `people` factory registers

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"
EXECUTE = ".graphiql-execute-button"


async def test_the_page_and_its_assets_come_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "default-src 'none'" in policy
    assert "://" not in page.text  # no CDN: every URL is relative to this server
    for name in (*STYLESHEETS, *SCRIPTS):
        assert f'"{ASSETS_PATH.lstrip("/")}/{name}?v=' in page.text
        asset = await client.get(f"{ASSETS_PATH}/{name}")
        assert asset.status_code == 200, name
        assert asset.content


async def test_without_graphiql_neither_the_page_nor_its_assets_are_served(
    database: DbUnderTest, container: Container
) -> None:
    app = create_app(make_settings(database, graphql={"graphiql": False}), container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        asset = await client.get(f"{ASSETS_PATH}/{SCRIPTS[0]}")
    assert page.status_code == 404
    assert asset.status_code == 404


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go: ``$EZHR_TEST_ARTIFACTS``, by default ``test-artifacts/``."""
    path = Path(os.environ.get("EZHR_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def page(live_url: str) -> AsyncIterator[Page]:
    """A Chromium page that may only reach the live server: any other request fails
    the test (GraphiQL must not need a CDN)."""
    need(
        os.access(CHROMIUM, os.X_OK),
        f"no Chromium at {CHROMIUM}",
        "apt-get install chromium, or set EZHR_CHROMIUM to a Chromium binary",
    )
    origin = live_url.replace("ws://", "http://").removesuffix("/graphql")
    elsewhere: list[str] = []
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(30_000)

        async def refuse(route: Route) -> None:
            elsewhere.append(route.request.url)
            await route.abort()

        await context.route(lambda url: not url.startswith(origin), refuse)
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        try:
            yield page
        finally:
            await browser.close()
    assert not elsewhere, f"the page asked for resources elsewhere: {elsewhere}"
    assert not problems, problems


async def set_editor(page: Page, selector: str, text: str) -> None:
    await page.eval_on_selector(selector, "(el, text) => el.CodeMirror.setValue(text)", text)


async def set_query(page: Page, document: str) -> None:
    """Type ``document`` into the query editor and wait until GraphiQL has parsed it:
    whether it goes over HTTP or the websocket depends on the parsed operation."""
    await set_editor(page, QUERY_EDITOR, document)
    await page.wait_for_function(
        "selector => { const editor = document.querySelector(selector).CodeMirror;"
        " const parsed = editor.documentAST;"
        " return parsed && parsed.loc.source.body === editor.getValue(); }",
        arg=QUERY_EDITOR,
    )


async def response_text(page: Page) -> str:
    text: str = await page.eval_on_selector(RESPONSE, "el => el.CodeMirror.getValue()")
    return text


async def run_until(page: Page, document: str, expected: str) -> dict[str, Any]:
    """Run ``document`` and wait until the result pane shows ``expected``."""
    await set_editor(page, RESPONSE, "")
    await set_query(page, document)
    await page.click(EXECUTE)
    await page.wait_for_function(
        "([selector, expected]) =>"
        " document.querySelector(selector).CodeMirror.getValue().includes(expected)",
        arg=[RESPONSE, expected],
    )
    result: dict[str, Any] = json.loads(await response_text(page))
    return result


async def test_graphiql_signs_in_queries_and_streams_a_reply(
    page: Page, live_url: str, container: Container, people: PeopleFactory, artifacts: Path
) -> None:
    admin = await people.admin()
    agent = await make_agent(container, admin, llm="scripted?tokens=60&delay_ms=40")
    [session] = await make_sessions(container, admin, agent.id, 1)

    await page.goto(live_url.replace("ws://", "http://"))
    await page.wait_for_selector(QUERY_EDITOR)

    # Sign in through GraphiQL and keep the token from the result pane.
    login = await run_until(
        page,
        f'mutation {{ login(email: "{admin.email}", password: "{PASSWORD}") {{'
        " __typename ... on AuthPayload { token } ... on UserError { message } } }",
        '"login"',
    )
    assert login["data"]["login"]["__typename"] == "AuthPayload", login
    token = login["data"]["login"]["token"]

    # The Headers tab's JSON goes with every request.
    await page.get_by_role("button", name="Headers", exact=True).click()
    await set_editor(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))
    viewer = await run_until(page, "query { viewer { email role } }", admin.email)
    assert viewer == {"data": {"viewer": {"email": admin.email, "role": "ADMIN"}}}

    # A subscription over the websocket: the pane shows each event as it comes.
    await page.eval_on_selector(
        RESPONSE,
        "el => { window.shown = [];"
        " el.CodeMirror.on('change', cm => window.shown.push(cm.getValue())); }",
    )
    await set_query(
        page,
        "subscription {\n"
        f'  chat(input: {{sessionId: "{session.id}", content: "How much leave do I get?",'
        ' clientMessageId: "graphiql-1"}) {\n'
        "    __typename\n"
        "    ... on ReplyStarted { seq messageId }\n"
        "    ... on ReplyDelta { seq text }\n"
        "    ... on ReplyCompleted { seq message { status content } }\n"
        "    ... on ReplyFailed { seq code reason }\n"
        "  }\n"
        "}\n",
    )
    await page.click(EXECUTE)
    await page.wait_for_function(
        "() => window.shown.filter(text => text.includes('ReplyDelta')).length >= 5"
    )
    await page.screenshot(path=artifacts / "graphiql.png")
    await page.wait_for_function(
        "() => window.shown.some(text => /ReplyCompleted|ReplyFailed/.test(text))"
    )

    shown = [json.loads(text) for text in await page.evaluate("window.shown") if text]
    assert all("data" in result for result in shown), shown
    events = [result["data"]["chat"] for result in shown]
    kinds = [event["__typename"] for event in events]
    assert kinds[0] == "ReplyStarted"
    assert kinds[-1] == "ReplyCompleted", events[-1]
    deltas = [event for event in events if event["__typename"] == "ReplyDelta"]
    assert len(deltas) >= 5
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(set(seqs)), "each event once, in order"
    reply = events[-1]["message"]
    assert reply["status"] == "COMPLETED"
    assert "".join(delta["text"] for delta in deltas) == reply["content"]
