"""Threads for bulk CPU work (parsing documents, embedding them), below the event loop
in CPU priority.

Indexing a handbook keeps every core busy for minutes. It runs off the event loop
already; on busy cores the loop's thread must also win the scheduler's choice, or a
request waits its turn behind the embedding. Bulk work therefore runs on threads whose
nice value is raised by :data:`BACKGROUND_NICE`: on Linux a thread's own, inherited by
the threads it starts (such as those the local embedding model encodes on). Raising it
needs no privilege; lowering it again would, so such a thread stays in the background
for good. Elsewhere the threads keep the process's priority.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

T = TypeVar("T")

BACKGROUND_NICE: Final = 10
_MAX_NICE: Final = 19

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`BACKGROUND_NICE`, for good
    (Linux only; elsewhere nothing changes)."""
    if sys.platform != "linux":  # elsewhere PRIO_PROCESS takes a process, not a thread
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(_MAX_NICE, current + BACKGROUND_NICE))
    except OSError:  # a sandbox may refuse; the work runs all the same
        pass


def _background_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                # As many as asyncio's own: a remote embedding model's calls wait
                # on the network here too.
                max_workers=min(32, (os.cpu_count() or 1) + 4),
                thread_name_prefix="background",
                initializer=lower_priority,
            )
        return _executor


async def run_in_background(work: Callable[..., T], /, *args: object) -> T:
    """``work(*args)`` on a background thread (as :func:`asyncio.to_thread` runs it,
    context variables included), while the event loop goes on."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, work, *args)
    return await loop.run_in_executor(_background_executor(), call)
