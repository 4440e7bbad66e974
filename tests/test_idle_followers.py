"""Followers of replies that stay quiet for long (a slow model, a run whose process
died): they must cost the database nothing per follower while they wait, and still
end once their reply is stored."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ezhr_graphql.container import Container
from ezhr_graphql.models import ChatMessage as ChatMessageRow
from ezhr_graphql.models import MessageRole, MessageStatus
from tests.conftest import GraphQLClient, PeopleFactory, StatementCounter
from tests.test_replies import STREAM, Chat, begun_stream, make_chat
from tests.wsclient import connect

FOLLOWERS = 8
GRACE = 0.2  # stream_end_grace_seconds while the followers wait


async def streaming_reply(container: Container, chat: Chat) -> ChatMessageRow:
    """A reply being generated, as its run would have begun it (no run behind it)."""
    async with container.db.transaction() as session:
        question = ChatMessageRow(
            session_id=chat.session_id, role=MessageRole.USER, content="How much leave?"
        )
        session.add(question)
        await session.flush()
        reply = ChatMessageRow(
            session_id=chat.session_id,
            parent_id=question.id,
            role=MessageRole.ASSISTANT,
            content="",
            status=MessageStatus.STREAMING,
        )
        session.add(reply)
    await begun_stream(container, chat, reply)
    return reply


async def follow(
    stack: contextlib.AsyncExitStack, url: str, token: str, reply: ChatMessageRow
) -> AsyncIterator[dict[str, Any]]:
    """A follower of ``reply`` on a connection of its own, once it has its first event."""
    connection = await stack.enter_async_context(connect(url, token))
    events = connection.subscribe(STREAM, {"id": str(reply.id), "after": 0})
    first = await anext(events)
    assert first["messageStream"]["__typename"] == "ReplyStarted"
    return events


def ownership_reads(statements: list[str]) -> int:
    """Statements that look a reply up for its owner (as a follower checks it)."""
    return sum(
        1 for s in statements if "FROM chat_message JOIN chat_session" in " ".join(s.split())
    )


async def test_quiet_followers_cost_one_read_per_check_whatever_their_number(
    gql: GraphQLClient,
    people: PeopleFactory,
    container: Container,
    live_url: str,
    count_statements: StatementCounter,
) -> None:
    chat = await make_chat(gql, people, container)
    replies = [await streaming_reply(container, chat) for _ in range(FOLLOWERS)]
    chat_settings = container.settings.chat
    grace = chat_settings.stream_end_grace_seconds
    chat_settings.stream_end_grace_seconds = GRACE
    try:
        async with contextlib.AsyncExitStack() as stack:
            # Given followers of replies whose model says nothing for many grace periods
            followers = [
                await follow(stack, live_url, chat.person.token, reply) for reply in replies
            ]
            before, started = len(count_statements.statements), time.monotonic()
            await asyncio.sleep(6 * GRACE)
            reads = ownership_reads(count_statements.statements[before:])
            elapsed = time.monotonic() - started
            # Then the process checks their replies in one read per half grace period
            # at most, not one per follower and period
            assert reads <= elapsed / (GRACE / 2) + 1, count_statements.statements[before:]
            # And when the replies are stored without their end ever published
            async with container.db.transaction() as session:
                for reply in replies:
                    row = await session.get(ChatMessageRow, reply.id)
                    assert row is not None
                    row.content, row.status = "Leave is 25 days.", MessageStatus.COMPLETED
                    row.stream_seq = 2
            # each follower is told its reply ended, as stored
            for events in followers:
                ending = await asyncio.wait_for(anext(events), 10)
                assert ending["messageStream"]["__typename"] == "ReplyCompleted"
                assert ending["messageStream"]["message"]["content"] == "Leave is 25 days."
    finally:
        chat_settings.stream_end_grace_seconds = grace


async def test_a_quiet_follower_waits_for_as_long_as_its_reply_is_generated(
    gql: GraphQLClient, people: PeopleFactory, container: Container, live_url: str
) -> None:
    # Given a reply being generated and followed by its owner
    chat = await make_chat(gql, people, container)
    reply = await streaming_reply(container, chat)
    other = await people.member()
    chat_settings = container.settings.chat
    grace = chat_settings.stream_end_grace_seconds
    chat_settings.stream_end_grace_seconds = GRACE
    try:
        async with contextlib.AsyncExitStack() as stack:
            events = await follow(stack, live_url, chat.person.token, reply)
            # When another member asks for it, they are told it does not exist
            stranger = await stack.enter_async_context(connect(live_url, other.token))
            refused = stranger.subscribe(STREAM, {"id": str(reply.id), "after": 0})
            with pytest.raises(AssertionError, match="NOT_FOUND"):
                await anext(refused)
            # and the owner's follower keeps waiting for the reply, quiet as it is
            waiting = asyncio.ensure_future(anext(events))
            await asyncio.sleep(4 * GRACE)
            assert not waiting.done()
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
    finally:
        chat_settings.stream_end_grace_seconds = grace
