"""The timers of websocket connections (keep-alive pings, token expiry): work run on
the event loop's timers, with a task only while it runs."""

from __future__ import annotations

import asyncio

from ezhr_graphql.api.transport.timers import Timer


class Work:
    def __init__(self, runs_wanted: int) -> None:
        self.runs = 0
        self.runs_wanted = runs_wanted
        self.done = asyncio.Event()

    async def __call__(self) -> bool:
        self.runs += 1
        if self.runs >= self.runs_wanted:
            self.done.set()
            return False
        return True


async def test_a_timer_runs_its_work_once_after_its_delay() -> None:
    work = Work(runs_wanted=1)
    Timer(0.01, work)
    await asyncio.wait_for(work.done.wait(), 5)
    await asyncio.sleep(0.05)
    assert work.runs == 1


async def test_a_repeating_timer_runs_until_its_work_says_stop() -> None:
    work = Work(runs_wanted=3)
    Timer(0.01, work, every=0.01)
    await asyncio.wait_for(work.done.wait(), 5)
    await asyncio.sleep(0.05)
    assert work.runs == 3


async def test_a_cancelled_timer_never_runs() -> None:
    work = Work(runs_wanted=1)
    timer = Timer(0.05, work, every=0.05)
    timer.cancel()
    await asyncio.sleep(0.2)
    assert work.runs == 0


async def test_stopping_a_timer_cancels_the_run_under_way() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow() -> bool:
        started.set()
        await asyncio.sleep(10)
        finished.set()
        return True

    timer = Timer(0, slow, every=0.01)
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(timer.stop(), 5)
    assert not finished.is_set()
