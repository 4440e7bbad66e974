"""Bulk CPU work (parsing, embedding) runs off the event loop, on threads below it in
CPU priority (ezhr_graphql.rag.threads)."""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ezhr_graphql.rag.threads import BACKGROUND_NICE, lower_priority, run_in_background

LINUX_ONLY = pytest.mark.skipif(
    sys.platform != "linux", reason="thread priorities are set on Linux only"
)
REQUEST = contextvars.ContextVar[str]("request", default="none")


def priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def where() -> tuple[int, int, str]:
    return threading.get_ident(), priority(), REQUEST.get()


@LINUX_ONLY
async def test_work_runs_off_the_loop_below_its_priority_with_its_context() -> None:
    REQUEST.set("upload-1")
    thread, nice, request = await run_in_background(where)
    assert thread != threading.get_ident()
    assert nice == min(19, priority() + BACKGROUND_NICE)
    assert request == "upload-1"


@LINUX_ONLY
async def test_threads_started_in_the_background_stay_there() -> None:
    def start_one() -> int:
        seen: list[int] = []
        child = threading.Thread(target=lambda: seen.append(priority()))
        child.start()
        child.join()
        return seen[0]

    assert await run_in_background(start_one) == min(19, priority() + BACKGROUND_NICE)


@LINUX_ONLY
def test_priority_only_goes_down_and_stops_at_the_lowest() -> None:
    def lowered(times: int) -> int:
        for _ in range(times):
            lower_priority()
        return priority()

    with ThreadPoolExecutor(1) as pool:
        once = min(19, priority() + BACKGROUND_NICE)
        assert pool.submit(lowered, 2).result() == min(19, once + BACKGROUND_NICE)
        assert pool.submit(lowered, 1).result() == 19
    assert priority() < 19  # the caller's own is untouched
