"""What a channel has delivered to one local reader and the reader has not taken yet.

Every open subscription (a tab following its user's session updates, a follower of
a reply's live events on Redis) has one, and most of them wait idle for a long time:
an ``asyncio.Queue`` costs each several deques and an event (some KiB); an inbox is
a list, and a future only while its reader waits.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Inbox:
    """Unbounded, for one reader (the one task that awaits it at a time)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def take_all(self) -> list[Any]:
        """Everything delivered so far, oldest first; the inbox is empty afterwards."""
        items, self._items = self._items, []
        return items

    async def wait(self) -> None:
        """Wait until something was delivered (at once if something is there)."""
        if self._items:
            return
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    async def get(self) -> Any:
        """The oldest item, once there is one."""
        while not self._items:
            await self.wait()
        return self._items.pop(0)
