"""Quiet replies: which replies followed in this process, their streams quiet for a
while, are no longer being generated.

A follower waits on a reply's stream for its end; a run stores its reply and then
publishes the end, and its process may die in between, so a stream that stays quiet
may never end. The stored row then says how the reply ended. Rather than each
follower reading its row every ``stream_end_grace_seconds`` (a database session per
follower and period, which a worker with thousands of open tabs cannot afford), one
task per process asks for every quiet follower's reply in one query per period, and
wakes only the followers whose reply is no longer a ``STREAMING`` reply of theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

from ezhr_graphql.db import Database
from ezhr_graphql.repositories.chat import ChatMessageRepository
from ezhr_graphql.settings import ChatSettings
from ezhr_graphql.tasks import stop_task

logger = logging.getLogger(__name__)

# Replies asked for in one statement (well under every dialect's parameter limit).
CHUNK = 500


class Watch:
    """One follower's reply, watched while the follower waits on its stream."""

    __slots__ = ("_ended", "message_id", "owner_id", "waiting_since")

    def __init__(self, message_id: uuid.UUID, owner_id: uuid.UUID) -> None:
        self.message_id = message_id
        self.owner_id = owner_id
        # Since when the follower has been waiting for the next events (None: busy).
        self.waiting_since: float | None = None
        self._ended: asyncio.Future[None] | None = None

    def waiting(self) -> asyncio.Future[None]:
        """The follower starts waiting for events: a future done once the reply, quiet
        for the grace period meanwhile, is found to be no longer generated."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        self.waiting_since = time.monotonic()
        return self._ended

    def heard(self) -> None:
        """Events came: the reply is not quiet (a verdict reached meanwhile is stale)."""
        self.waiting_since = None
        if self._ended is not None and self._ended.done():
            self._ended = None

    def end(self) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)


class QuietReplies:
    """Watches the replies of this process's followers; one per process."""

    def __init__(self, db: Database, settings: ChatSettings) -> None:
        self.db = db
        self.settings = settings
        self._watches: set[Watch] = set()
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watching(self, message_id: uuid.UUID, owner_id: uuid.UUID) -> Iterator[Watch]:
        """A watch on the owner's reply for as long as the block runs."""
        watch = Watch(message_id, owner_id)
        self._watches.add(watch)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="quiet-replies")
        try:
            yield watch
        finally:
            self._watches.discard(watch)

    async def _run(self) -> None:
        # Checked every half grace period: a quiet reply is looked at between one and
        # one and a half grace periods after its last event. Ends when nothing is
        # watched (the next watch starts it again).
        while self._watches:
            grace = self.settings.stream_end_grace_seconds
            await asyncio.sleep(grace / 2)
            now = time.monotonic()
            due = {
                w: w.waiting_since
                for w in self._watches
                if w.waiting_since is not None and now - w.waiting_since >= grace
            }
            if due:
                await self._check(due)

    async def _check(self, due: dict[Watch, float]) -> None:
        """Wake the followers of replies no longer being generated for their owner,
        unless events came meanwhile (their verdict would be stale)."""
        ids = list({w.message_id for w in due})
        streaming: dict[uuid.UUID, uuid.UUID] = {}
        try:
            for start in range(0, len(ids), CHUNK):
                async with self.db.read() as session:
                    repository = ChatMessageRepository.from_session(session)
                    streaming.update(await repository.streaming_owners(ids[start : start + CHUNK]))
        except Exception:
            # Out of reach for now: the replies are asked for again next period.
            logger.warning("could not check quiet replies", exc_info=True)
            return
        for watch, since in due.items():
            if watch.waiting_since == since and streaming.get(watch.message_id) != watch.owner_id:
                watch.end()

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
