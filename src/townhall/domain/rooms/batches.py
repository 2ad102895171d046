"""Work for one key done together: whoever comes while a batch runs waits for the next one,
which takes everyone who came meanwhile.

A room filling up sends listeners' joins by the hundred a second. Each join alone is a
transaction: a connection, ``BEGIN``, the room and its audience lock, a few statements and a
commit, and the joins into one room take their turns for that lock (and on SQLite for the
one writer). Taken together, the joins waiting in this process share one transaction:
the room is read and locked once, the entrants are inserted in one statement, and the
commit is paid once. Nobody waits for a batch to fill: the first join into a quiet room
starts at once, alone, and the batch grows only as much as the joins queue anyway (group
commit).

``run`` gets the items of a batch and answers, in their order, each one's result or the
exception that item alone raises; when ``run`` itself raises, every item of the batch gets
that error. An item whose waiter gave up (its socket closed) is still done: the result is
dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batches(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[str, list[T]], Awaitable[Sequence[R | Exception]]],
        limit: int,
    ) -> None:
        self._run = run
        self._limit = limit
        self._waiting: dict[str, list[tuple[T, asyncio.Future[R]]]] = {}
        self._draining: dict[str, asyncio.Task[None]] = {}

    async def submit(self, key: str, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key))
        return await future

    def waiting(self, key: str) -> int:
        """How many items wait for the next batch of ``key`` (not counting one running)."""
        return len(self._waiting.get(key, ()))

    async def _drain(self, key: str) -> None:
        try:
            while waiting := self._waiting.pop(key, None):
                batch, rest = waiting[: self._limit], waiting[self._limit :]
                if rest:
                    self._waiting[key] = rest
                await self._one(key, batch)
        except BaseException:
            for _, future in self._waiting.pop(key, []):
                future.cancel()
            raise
        finally:
            # No await since the last look at the queue: nothing came in between.
            del self._draining[key]

    async def _one(self, key: str, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        outcomes: Sequence[R | Exception]
        try:
            outcomes = await self._run(key, [item for item, _ in batch])
        except Exception as exc:
            outcomes = [exc] * len(batch)
        except BaseException:
            # Cancelled (the process is stopping): nobody may be left waiting.
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
