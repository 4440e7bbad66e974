"""Faults during a reply, end to end through the API: the language model times out,
rate-limits or drops the connection; the database goes away during a run or a
mutation. Each time the user gets a typed error or the complete answer, and what is
stored is what the user was shown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)

from ezhr_graphql.db.errors import unavailable
from tests.conftest import serving
from tests.faults import (
    FAULT_CHAT,
    PROVIDER_KEYS,
    AppUnderTest,
    DatabaseOutage,
    Follower,
    app_under_test,
    assert_stored_as_seen,
    assert_well_formed,
    make_chat_on,
    poll,
    stored_messages,
)
from tests.test_providers import fake
from tests.test_replies import SEND, Chat, collect, text_of

QUESTION = "How much annual leave do I get?"


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppUnderTest]:
    async with app_under_test(
        tmp_path_factory.mktemp("faults"), chat=FAULT_CHAT, llm_secrets=PROVIDER_KEYS
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def provider_url() -> AsyncIterator[str]:
    """The fake OpenAI-compatible server of tests.test_providers."""
    async with serving(fake) as url:
        yield url.replace("ws://", "http://").replace("/graphql", "/v1")


# --- the language model -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code", "kept"),
    [
        ("ok", None, "Annual leave is 25 days."),
        ("429", "LLM_RATE_LIMITED", ""),
        ("slow", "LLM_TIMEOUT", "Annual "),
        ("drop", "LLM_UNAVAILABLE", "Annual leave is "),
    ],
)
async def test_a_provider_fault_ends_the_reply_with_its_code_and_keeps_what_was_said(
    app: AppUnderTest, provider_url: str, key: str, code: str | None, kept: str
) -> None:
    # Given an agent on a remote model that answers, rate-limits, stalls or drops
    chat = await make_chat_on(app, "fake", provider="openai_like", base_url=provider_url, key=key)
    # When a member asks and follows the reply
    sent = await chat.send(QUESTION)
    reply_id = sent["assistantMessage"]["id"]
    events = await collect(app.url, chat.person.token, reply_id)
    # Then the reply ends once, as completed or with the provider's code...
    end = assert_well_formed(events)
    if code is None:
        assert end["__typename"] == "ReplyCompleted"
        assert end["message"]["content"] == kept
    else:
        assert end["__typename"] == "ReplyFailed"
        assert end["code"] == code
    # ...keeping exactly what the model said, as it was shown
    assert text_of(events) == kept
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)


# --- the database during a run ------------------------------------------------


def _stores(outage: DatabaseOutage) -> int:
    """How many times a run has tried to read its reply back to store it."""
    return sum(
        s.startswith("SELECT chat_message.id") and "WHERE chat_message.id =" in s
        for s in outage.refused
    )


async def _followed_reply(app: AppUnderTest) -> tuple[Chat, str, Follower]:
    """A question sent, its 60-token reply followed by a client."""
    chat = await make_chat_on(app, "scripted?tokens=60&delay_ms=20")
    reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
    return chat, reply_id, Follower(app.url, chat.person.token, reply_id)


async def _down_mid_reply(outage: DatabaseOutage, follower: Follower) -> None:
    await follower.seen(3)
    outage.down()
    assert follower.streaming, "the reply ended before the outage"


async def test_a_reply_finished_while_the_database_is_down_waits_for_it_and_completes(
    app: AppUnderTest,
) -> None:
    chat, reply_id, follower = await _followed_reply(app)
    with DatabaseOutage(app.container) as outage:
        # Given the database goes away while the model is still talking
        await _down_mid_reply(outage, follower)
        # When it comes back after the run has failed to store the reply three times
        await poll(lambda: _stores(outage), lambda tries: tries >= 3)
        outage.up()
        events = await follower.finished()
    # Then the user gets the whole answer, and it is stored as they saw it
    end = assert_well_formed(events)
    assert end["__typename"] == "ReplyCompleted", end
    assert end["message"]["content"] == text_of(events)
    assert len(text_of(events).split()) == 60
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)


async def test_a_reply_that_cannot_be_stored_fails_typed_and_is_stored_once_possible(
    app: AppUnderTest,
) -> None:
    chat, reply_id, follower = await _followed_reply(app)
    with DatabaseOutage(app.container) as outage:
        # Given the database is down from mid-reply for longer than the run can wait
        await _down_mid_reply(outage, follower)
        events = await follower.finished()
        # Then the user is told the reply could not be saved, with the text shown
        end = assert_well_formed(events)
        assert end["__typename"] == "ReplyFailed", end
        assert end["code"] == "STORAGE_ERROR"
        assert len(text_of(events).split()) == 60
        # When the database comes back
        outage.up()
    # Then the reply is stored as failed, with the text and the code the user saw
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)
    # and a late follower gets the same ending
    again = await collect(app.url, chat.person.token, reply_id)
    assert again[-1]["code"] == "STORAGE_ERROR"
    assert text_of(again) == text_of(events)


async def test_a_run_that_cannot_read_its_agent_fails_typed_and_the_session_is_not_stuck(
    app: AppUnderTest,
) -> None:
    chat = await make_chat_on(app, "scripted?tokens=5")
    with DatabaseOutage(app.container) as outage:
        # Given the database fails every read of the agent's model (the run's first step)
        outage.down(lambda statement: "llm_model" in statement)
        reply_id = (await chat.send(QUESTION))["assistantMessage"]["id"]
        events = await collect(app.url, chat.person.token, reply_id)
    # Then the user is told to try again, and the reply is stored as failed
    end = assert_well_formed(events)
    assert end["__typename"] == "ReplyFailed"
    assert end["code"] == "SERVICE_UNAVAILABLE"
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)
    # and asking again in the same session works
    retry = await chat.send("And now?")
    assert retry["__typename"] == "SentMessage"
    answer = await collect(app.url, chat.person.token, retry["assistantMessage"]["id"])
    assert answer[-1]["__typename"] == "ReplyCompleted"


# --- the database during a mutation -------------------------------------------

VIEWER = "{ viewer { email } }"


@pytest.mark.parametrize(
    ("signed_in", "refuse"),
    [
        # Down before the request: even who is asking cannot be checked.
        pytest.param(False, lambda statement: True, id="down"),
        # Down after the user was recognised (it is cached): the mutation fails.
        pytest.param(True, lambda statement: True, id="down-when-known"),
        # Cut off after the messages were inserted, before the transaction ends.
        pytest.param(
            True, lambda statement: statement.startswith("UPDATE chat_session"), id="midway"
        ),
    ],
)
async def test_a_mutation_without_its_database_is_a_typed_error_and_writes_nothing(
    app: AppUnderTest, signed_in: bool, refuse: Any
) -> None:
    chat = await make_chat_on(app, "scripted?tokens=5")
    send = {
        "sessionId": str(chat.session_id),
        "content": QUESTION,
        "clientMessageId": str(uuid.uuid4()),
    }
    if signed_in:
        await app.gql.data(VIEWER, token=chat.person.token)
    with DatabaseOutage(app.container) as outage:
        outage.down(refuse)
        response = await app.gql.raw(SEND, {"input": send}, token=chat.person.token)
        assert outage.refused
    # The user gets an error saying to try again, not a masked failure
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    if signed_in:  # the operation ran, and its field failed
        assert response.status_code == 200
        assert body["data"] is None
        assert error["path"] == ["sendMessage"]
    else:  # the request could not start
        assert response.status_code == 503
        assert response.headers["retry-after"]
    # Nothing was half-written
    assert await stored_messages(app.container, chat.session_id) == []
    # Sending again with the same client id once the database is back works, once
    again = await app.gql.data(SEND, {"input": send}, token=chat.person.token)
    twice = await app.gql.data(SEND, {"input": send}, token=chat.person.token)
    reply_id = again["sendMessage"]["assistantMessage"]["id"]
    assert twice["sendMessage"]["assistantMessage"]["id"] == reply_id
    events = await collect(app.url, chat.person.token, reply_id)
    assert events[-1]["__typename"] == "ReplyCompleted"
    await assert_stored_as_seen(app.container, chat, QUESTION, reply_id, events)


class CannotConnectNowError(Exception):
    """Shaped like asyncpg's refusal while PostgreSQL starts or stops."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (InterfaceError("SELECT 1", {}, Exception("connection is closed")), True),
        (DBAPIError("SELECT 1", {}, Exception("reset"), connection_invalidated=True), True),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (CannotConnectNowError("the database system is starting up"), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ProgrammingError("SELEC", {}, Exception("syntax error")), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_an_unreachable_database_is_told_apart_as_unavailable(
    error: BaseException, expected: bool
) -> None:
    assert unavailable(error) is expected
