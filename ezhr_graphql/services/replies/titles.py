"""Naming a conversation after its first exchange, in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.rag import ChatTurn
from ezhr_graphql.repositories.chat import ChatSessionRepository
from ezhr_graphql.services.replies.planning import Plan
from ezhr_graphql.services.replies.updates import SessionUpdates, TitleChanged

logger = logging.getLogger(__name__)

TITLE_WORDS = 6
TITLE_LENGTH = 80


def clean_title(raw: str) -> str:
    """A few words, no quotes or trailing punctuation, bounded in length."""
    words = raw.replace("\n", " ").strip().strip("\"'“”*#").split()
    title = " ".join(words[: TITLE_WORDS + 2]).rstrip(".:;,!?—-")
    return title[:TITLE_LENGTH].strip()


class Titler:
    def __init__(self, db: Database, updates: SessionUpdates) -> None:
        self.db = db
        self.updates = updates
        self._background: set[asyncio.Task[Any]] = set()

    def later(self, plan: Plan, answer: str) -> None:
        """Title the conversation in the background (a reply never waits for it)."""
        self._in_background(self.title(plan, answer))

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def title(self, plan: Plan, answer: str) -> None:
        """Name the conversation after its first exchange, unless it has a name."""
        try:
            raw = await plan.model.complete(
                [
                    ChatTurn(
                        "system",
                        f"Write a title of at most {TITLE_WORDS} words for this conversation. "
                        "Reply with the title only.",
                    ),
                    ChatTurn("user", f"Question: {plan.question}\nAnswer: {answer[:500]}"),
                ]
            )
            title = clean_title(raw) or clean_title(plan.question)
            if not title:
                return
            async with self.db.transaction() as session:
                chat = await ChatSessionRepository.from_session(session).get(plan.session_id)
                if chat is None or chat.title:
                    return
                chat.title = title
            await self.updates.publish(plan.owner_id, TitleChanged(plan.session_id, title))
        except Exception:
            logger.warning("could not title session %s", plan.session_id, exc_info=True)

    async def close(self) -> None:
        """Wait for the titles being written."""
        await asyncio.gather(*self._background, return_exceptions=True)
