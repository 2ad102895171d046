"""Owners for long-lived background tasks: started once, closed idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

RECANCEL_SECONDS = 1.0
"""How long ``stop`` waits for a cancelled task to end before cancelling it again."""


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended; an exception other than the cancellation
    is raised here. A task may swallow a cancellation (on Python 3.11 a library's
    ``asyncio.wait_for`` loses one that arrives as the call it waits for ends) and go on
    with its loop: the cancellation is then repeated, never waited on forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Periodic:
    """Runs ``work`` every ``interval`` seconds until closed; a failure is logged, not fatal."""

    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        # Closing also ends the loop by itself: the work may have swallowed the cancellation.
        while not self._closing:
            await asyncio.sleep(self._interval)
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("periodic task %s failed", self.name)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            await stop(task)
