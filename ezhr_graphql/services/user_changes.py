"""Changes to who a user is (role, deactivation, deletion, revoked tokens), made known
to every server process at once.

Each process caches users for ``auth.user_cache_seconds`` (see :mod:`.actor_cache`).
A change evicts the user from this process's cache when its transaction commits, and
then publishes the user's id on the broker (Redis when configured, so every worker
hears it): each process that hears it evicts the user too and tells its listeners,
such as the websocket transport, which closes the connections of a user whose tokens
no longer work. A signal lost to a Redis outage is made up for by the cache's expiry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.db.database import after_commit
from ezhr_graphql.pubsub import Broker
from ezhr_graphql.pubsub.broker import BrokerUnavailable, Subscription
from ezhr_graphql.services.actor_cache import ActorCache
from ezhr_graphql.tasks import stop_task

logger = logging.getLogger(__name__)

USER_CHANNEL = "users"
Listener = Callable[[uuid.UUID], Awaitable[None]]


class UserChanges:
    def __init__(self, broker: Broker, actors: ActorCache) -> None:
        self.broker = broker
        self.actors = actors
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with the id of each user changed, in any process, once
        this process has forgotten what it knew of them."""
        self._listeners.append(listener)

    def after_commit(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Announce that ``user_id`` changed once the transaction of ``session``
        commits (never if it rolls back)."""
        self.actors.forget_after_commit(session, user_id)
        after_commit(session, lambda: self.announce(user_id))

    async def announce(self, user_id: uuid.UUID) -> None:
        """Tell every process (this one included) that ``user_id`` changed."""
        self.actors.forget(user_id)
        try:
            await self.broker.publish(USER_CHANNEL, {"user_id": str(user_id)})
        except BrokerUnavailable:
            # Other processes notice within auth.user_cache_seconds; this one at once.
            logger.warning("could not announce a change to a user; other workers catch up")
            await self._tell(user_id)

    async def start(self) -> None:
        """Listen for changes; returns once listening.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        signals = await self.broker.subscribe(USER_CHANNEL)
        self._task = asyncio.create_task(self._follow(signals), name="user-changes")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _follow(self, signals: Subscription) -> None:
        try:
            async for message in signals:
                try:
                    user_id = uuid.UUID(str(message["user_id"]))
                except (KeyError, TypeError, ValueError):
                    continue
                self.actors.forget(user_id)
                await self._tell(user_id)
        finally:
            await signals.aclose()

    async def _tell(self, user_id: uuid.UUID) -> None:
        for listener in self._listeners:
            try:
                await listener(user_id)
            except Exception:
                logger.exception("a listener of user changes failed")
