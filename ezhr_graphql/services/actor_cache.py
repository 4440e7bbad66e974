"""A short-lived, per-process cache of who a user is, so that authenticating a
request does not cost a database round trip every time.

Entries live ``ttl`` seconds. A change to a user made in this process (role change,
deletion) evicts the entry once its transaction commits; other processes see the
change within ``ttl`` seconds.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.services.actor import Actor


class ActorCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[uuid.UUID, tuple[float, Actor | None]] = OrderedDict()

    async def get(
        self, user_id: uuid.UUID, load: Callable[[uuid.UUID], Awaitable[Actor | None]]
    ) -> Actor | None:
        """The actor for ``user_id`` (``None`` if there is no such live user)."""
        now = time.monotonic()
        entry = self._entries.get(user_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        actor = await load(user_id)
        if self.ttl > 0:
            self._entries[user_id] = (now + self.ttl, actor)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return actor

    def forget(self, user_id: uuid.UUID) -> None:
        self._entries.pop(user_id, None)

    def forget_after_commit(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Evict now and again once ``session`` commits, so no request re-caches the
        old state in between."""
        self.forget(user_id)
        event.listen(
            session.sync_session, "after_commit", lambda _: self.forget(user_id), once=True
        )
