"""Naming a conversation after its first exchange, in the background.

A conversation is named after its question: its words, cleaned and cut to a few. A
generative agent asks its model for a title first, and takes it unless it is empty or a
piece of the reply (small models answer "write a title" with the start of the answer).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

from ezhr_graphql.db import Database
from ezhr_graphql.rag import ChatTurn
from ezhr_graphql.repositories.chat import ChatSessionRepository
from ezhr_graphql.services.replies.planning import Plan
from ezhr_graphql.services.replies.updates import SessionUpdates, TitleChanged

logger = logging.getLogger(__name__)

TITLE_WORDS = 6
# A question makes a title of up to this many words.
QUESTION_WORDS = 10
TITLE_LENGTH = 80
_GREETING = re.compile(
    r"^(hi|hello|hey|dear \w+|chào( bạn| anh| chị| em)?|xin chào|cho (tôi|em|mình) hỏi)"
    r"\b[,!.:]*\s*",
    re.IGNORECASE,
)


def clean_title(raw: str) -> str:
    """A few words, no quotes or trailing punctuation, bounded in length."""
    words = raw.replace("\n", " ").strip().strip("\"'“”*#").split()
    title = " ".join(words[: TITLE_WORDS + 2]).rstrip(".:;,!?—-")
    return title[:TITLE_LENGTH].strip()


def question_title(question: str) -> str:
    """A title made of the question: its first line that asks something, greeting
    dropped, cut to a few words, its first letter capital."""
    lines = [line.strip(" \t-*#>\"'“”") for line in question.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    line = next((line for line in lines if "?" in line), lines[0])
    line = _GREETING.sub("", line).strip() or line
    words = line.split()
    title = " ".join(words[:QUESTION_WORDS]).rstrip(".:;,!?—-")
    if len(words) > QUESTION_WORDS:
        title += "…"
    title = title[:TITLE_LENGTH].strip()
    return title[:1].upper() + title[1:]


def fragment_of(title: str, answer: str) -> bool:
    """Whether ``title`` is a piece of ``answer`` (three words or more of it, as they
    stand there)."""
    words = re.findall(r"\w+", title.lower())
    return len(words) >= 3 and " ".join(words) in " ".join(re.findall(r"\w+", answer.lower()))


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
            title = await self._from_model(plan, answer) or question_title(plan.question)
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

    async def _from_model(self, plan: Plan, answer: str) -> str:
        """The generative model's title ("" without a model, or when what it wrote is
        no title: empty, or a piece of the reply)."""
        if plan.model is None or plan.said is not None:
            return ""
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
        except Exception:
            logger.warning("the model could not title session %s", plan.session_id)
            return ""
        title = clean_title(raw)
        return "" if fragment_of(title, answer) else title

    async def close(self) -> None:
        """Wait for the titles being written."""
        await asyncio.gather(*self._background, return_exceptions=True)
