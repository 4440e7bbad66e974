"""Timed work of a websocket connection (keep-alive pings, closing when its token
expires) on the event loop's timers rather than in tasks of its own.

A task asleep until its time comes holds a coroutine frame and a task for every open
connection, most of them idle; a timer holds a handle of a few hundred bytes, and a
task exists only while the work runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Timer:
    """Runs ``action`` ``delay`` seconds from now; with ``every``, again ``every``
    seconds after each run, for as long as it returns ``True``. Created on a running
    event loop."""

    __slots__ = ("_action", "_every", "_handle", "_running")

    def __init__(
        self,
        delay: float,
        action: Callable[[], Awaitable[bool]],
        every: float | None = None,
    ) -> None:
        self._action = action
        self._every = every
        self._running: asyncio.Task[None] | None = None
        self._handle: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._fire
        )

    def _fire(self) -> None:
        self._handle = None
        self._running = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        again = await self._action()
        self._running = None
        if again and self._every is not None:
            self._handle = asyncio.get_running_loop().call_later(self._every, self._fire)

    def cancel(self) -> None:
        """Stop: no further run, and the one under way (if any) is cancelled."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._running is not None:
            self._running.cancel()

    async def stop(self) -> None:
        """Cancel, and wait for a run under way to finish."""
        running = self._running
        self.cancel()
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await running
