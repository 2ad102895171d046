"""Background tasks end when closed, even one whose work swallowed the cancellation (on
Python 3.11 a library's ``asyncio.wait_for`` can lose a cancellation that arrives as the
call it waits for ends; the periodic task then went on with its loop, and closing the
process waited for it forever)."""

from __future__ import annotations

import asyncio

import pytest

from tests.waiting import PATIENCE, until
from townhall import tasks
from townhall.tasks import Periodic, stop


@pytest.fixture(autouse=True)
def quick_recancel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "RECANCEL_SECONDS", 0.01)


async def test_a_periodic_task_whose_work_swallows_the_cancellation_still_closes() -> None:
    started = asyncio.Event()
    swallowed = 0

    async def work() -> None:
        nonlocal swallowed
        started.set()
        try:
            await asyncio.sleep(PATIENCE * 10)
        except asyncio.CancelledError:
            swallowed += 1  # as a lost cancellation looks: the work just returns

    periodic = Periodic("stubborn", 0.001, work)
    periodic.start()
    await asyncio.wait_for(started.wait(), PATIENCE)
    await asyncio.wait_for(periodic.close(), PATIENCE)
    assert swallowed == 1


async def test_stop_raises_what_the_task_raised_other_than_the_cancellation() -> None:
    async def fails_when_cancelled() -> None:
        try:
            await asyncio.sleep(PATIENCE * 10)
        except asyncio.CancelledError:
            raise RuntimeError("while stopping") from None

    task = asyncio.create_task(fails_when_cancelled())
    await asyncio.sleep(0)  # the task is waiting in its sleep
    with pytest.raises(RuntimeError, match="while stopping"):
        await asyncio.wait_for(stop(task), PATIENCE)


async def test_stop_ends_a_task_that_swallows_one_cancellation_and_goes_on() -> None:
    cancels = 0

    async def loop() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(PATIENCE * 10)
            except asyncio.CancelledError:
                cancels += 1
                if cancels > 1:
                    raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop(task), PATIENCE)
    await until(lambda: task.cancelled(), "the task to end cancelled")
    assert cancels == 2
