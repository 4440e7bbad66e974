"""The signed-in websockets of this process, by user, so that a user whose tokens stop
working (deactivated, deleted, tokens revoked) loses their open connections at once,
whichever process made the change (see ezhr_graphql/services/user_changes.py).

Each connection is checked again as its next operation would be; one whose token is
refused is closed with 4403, as an expired token's is."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from ezhr_graphql.api.graphql.context import Context

CLOSE_CODE = 4403


class Watched:
    """One connection being watched; :meth:`cancel` when it closes."""

    __slots__ = ("context", "owner", "user_id", "websocket")

    def __init__(
        self, owner: SignedInConnections, user_id: uuid.UUID, context: Context, websocket: Any
    ) -> None:
        self.owner = owner
        self.user_id = user_id
        self.context = context
        self.websocket = websocket

    async def check(self) -> None:
        """Close the connection if its token no longer stands for its user."""
        actor, error = await self.context.reauthenticate()
        if actor is not None:
            return
        self.cancel()
        with contextlib.suppress(Exception):  # closed already
            await self.websocket.close(code=CLOSE_CODE, reason=error or "Signed out")

    def cancel(self) -> None:
        self.owner.forget(self)


class SignedInConnections:
    def __init__(self) -> None:
        self._by_user: dict[uuid.UUID, set[Watched]] = {}

    def watch(self, user_id: uuid.UUID, context: Context, websocket: Any) -> Watched:
        watched = Watched(self, user_id, context, websocket)
        self._by_user.setdefault(user_id, set()).add(watched)
        return watched

    def forget(self, watched: Watched) -> None:
        connections = self._by_user.get(watched.user_id)
        if connections is None:
            return
        connections.discard(watched)
        if not connections:
            del self._by_user[watched.user_id]

    async def user_changed(self, user_id: uuid.UUID) -> None:
        """Check each connection of ``user_id`` again (see :meth:`Watched.check`)."""
        for watched in list(self._by_user.get(user_id, ())):
            await watched.check()
