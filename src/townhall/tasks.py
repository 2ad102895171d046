"""Owners for long-lived background tasks: started once, closed idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs ``work`` every ``interval`` seconds until closed; a failure is logged, not fatal."""

    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
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
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
