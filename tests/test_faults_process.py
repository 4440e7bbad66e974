"""A server process killed in the middle of a reply (SIGKILL: no shutdown, no last
words). Another process sharing the database and Redis (this one) takes the run for
dead once its heartbeat is stale: the reply ends FAILED with the text it had
streamed, every follower is told, and the conversation goes on."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import make_settings, process_env
from tests.databases import fresh_database
from tests.faults import (
    AppUnderTest,
    Follower,
    assert_stored_as_seen,
    assert_well_formed,
    make_chat_on,
    serve,
    start_servers,
    stop_servers,
)
from tests.test_replies import SEND, STOP, Chat, collect, text_of

QUESTION = "Will this survive a crash?"
# Runs beat every 0.2 s; one silent for 2 s is taken for dead.
CHAT = {"heartbeat_seconds": 0.2, "stale_after_seconds": 2.0}


@pytest.fixture(scope="module")
async def survivor(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[AppUnderTest]:
    """This process, serving the app on a fresh database shared through Redis."""
    async with (
        fresh_database(tmp_path_factory.mktemp("killed")) as database,
        serve(make_settings(database, redis_url=redis_url, chat=CHAT)) as app,
    ):
        yield app


@pytest.fixture
def doomed(survivor: AppUnderTest, redis_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Another server process on the same database and Redis."""
    env = process_env(
        survivor.container.settings,
        EZHR_REDIS_URL=redis_url,
        **{f"EZHR_CHAT__{name.upper()}": str(value) for name, value in CHAT.items()},
    )
    started = start_servers(env, 1)
    try:
        ((port, process),) = started
        yield f"127.0.0.1:{port}", process
    finally:
        stop_servers(started)


async def _send(server: str, chat: Chat, content: str) -> str:
    """Send over HTTP to ``server`` (so the run starts in that process)."""
    payload = {
        "sessionId": str(chat.session_id),
        "content": content,
        "clientMessageId": str(uuid.uuid4()),
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://{server}/graphql",
            json={"query": SEND, "variables": {"input": payload}},
            headers={"authorization": f"Bearer {chat.person.token}"},
        )
    sent: dict[str, Any] = response.json()["data"]["sendMessage"]
    assert sent["__typename"] == "SentMessage", sent
    reply_id: str = sent["assistantMessage"]["id"]
    return reply_id


async def test_a_reply_whose_process_is_killed_ends_failed_with_its_text_for_everyone(
    survivor: AppUnderTest, doomed: tuple[str, subprocess.Popen[bytes]]
) -> None:
    server, process = doomed
    chat = await make_chat_on(survivor, "scripted?tokens=300&delay_ms=20")
    token = chat.person.token
    reply_id = await _send(server, chat, QUESTION)
    # Given one client follows the reply on the process running it, one on another
    here = Follower(f"ws://{server}/graphql", token, reply_id)
    there = Follower(survivor.url, token, reply_id)
    await here.seen(5)
    await there.seen(5)
    # When the process running it is killed
    process.kill()
    process.wait(10)
    # Then the client on it is cut off mid-reply...
    with pytest.raises(ConnectionClosed):
        await here.finished()
    assert here.streaming
    # ...the other is told the reply was interrupted, once it is taken for dead
    told = await there.finished(within=20)
    end = assert_well_formed(told)
    assert end["__typename"] == "ReplyFailed"
    assert end["code"] == "INTERRUPTED"
    # and the reply is stored as failed, with the text streamed before the crash
    reply = await assert_stored_as_seen(survivor.container, chat, QUESTION, reply_id, told)
    assert 4 <= len(reply.content.split()) < 300  # what the followers saw, at least
    # The cut-off client resumes elsewhere after the last event it saw
    after = here.events[-1]["seq"]
    resumed = await collect(survivor.url, token, reply_id, after)
    assert_well_formed(resumed, after)
    assert text_of(here.events + resumed) == reply.content
    # A new client gets the whole of it
    again = await collect(survivor.url, token, reply_id)
    assert again[-1]["code"] == "INTERRUPTED"
    assert text_of(again) == reply.content
    # and the conversation goes on (the agent is slow: the next reply is stopped)
    answer = await chat.send("Try again?")
    assert answer["__typename"] == "SentMessage"
    next_id = answer["assistantMessage"]["id"]
    await survivor.gql.data(STOP, {"id": next_id}, token=token)
    events = await collect(survivor.url, token, next_id)
    assert events[-1]["message"]["status"] == "CANCELLED"
