"""Work for one key done together: whoever comes while a batch runs waits for the next one,
which takes everyone who came meanwhile.

A room filling up sends listeners' joins by the hundred a second. Each join alone is a
transaction: a connection, ``BEGIN``, the room and its audience lock, a few statements and a
commit, and the joins into one room take their turns for that lock (and on SQLite for the
one writer). Taken together, the joins waiting in this process share one transaction:
the room is read and locked once, the entrants are inserted in one statement, and the
commit is paid once. Nobody waits for a batch to fill: the first join into a quiet room
starts at once, alone, and a full batch starts at once. While a key is busy (its last
batch began less than ``busy`` seconds ago, ``BUSY`` by default, and items overlap: the
last batch held more than one, or more than one is waiting), a batch that is not full
waits up to ``linger`` seconds after its first item came for others to join it (group
commit with a linger): in a room filling at 100 joins a second, each transaction then
lets in several people instead of one, for a few tens of milliseconds more per join.
Items that come one after the other, each after the previous one's answer (people joining
a room one by one), never overlap, so they never wait.

``run`` gets the items of a batch and answers, in their order, each one's result or the
exception that item alone raises; when ``run`` itself raises, every item of the batch gets
that error. An item whose waiter gave up (its socket closed) is still done: the result is
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BUSY = 1.0
"""A key whose last batch began less than this many seconds ago is busy: its batches linger."""
REMEMBERED = 256
"""Past this many keys, the start times of batches no longer busy are forgotten."""


class Batches(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[str, list[T]], Awaitable[Sequence[R | Exception]]],
        limit: int,
        linger: float = 0.0,
        busy: float = BUSY,
    ) -> None:
        self._run = run
        self._limit = limit
        self._linger = linger
        self._busy = busy
        self._waiting: dict[str, list[tuple[T, asyncio.Future[R]]]] = {}
        self._first: dict[str, float] = {}
        """When the first item now waiting for each key came (the event loop's clock)."""
        self._began: dict[str, float] = {}
        """When each key's last batch began."""
        self._sizes: dict[str, int] = {}
        """How many items each key's last batch held."""
        self._full: dict[str, asyncio.Event] = {}
        """Set when a lingering key's waiting items fill a batch."""
        self._draining: dict[str, asyncio.Task[None]] = {}

    async def submit(self, key: str, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if key not in self._waiting:
            self._first[key] = loop.time()
        waiting = self._waiting.setdefault(key, [])
        waiting.append((item, future))
        if len(waiting) >= self._limit and (full := self._full.get(key)) is not None:
            full.set()
        if key not in self._draining:
            self._forget(loop.time())
            self._draining[key] = asyncio.create_task(self._drain(key))
        return await future

    def waiting(self, key: str) -> int:
        """How many items wait for the next batch of ``key`` (not counting one running)."""
        return len(self._waiting.get(key, ()))

    async def _drain(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            while key in self._waiting:
                await self._lingering(key, loop)
                waiting = self._waiting.pop(key)
                self._first.pop(key, None)
                batch, rest = waiting[: self._limit], waiting[self._limit :]
                if rest:
                    self._waiting[key] = rest
                    self._first[key] = loop.time()
                self._began[key], self._sizes[key] = loop.time(), len(batch)
                await self._one(key, batch)
        except BaseException:
            for _, future in self._waiting.pop(key, []):
                future.cancel()
            self._first.pop(key, None)
            raise
        finally:
            # No await since the last look at the queue: nothing came in between.
            del self._draining[key]

    async def _lingering(self, key: str, loop: asyncio.AbstractEventLoop) -> None:
        """A busy key's batch that is not full waits for others, up to ``linger`` after
        its first item came (less if the batch fills meanwhile)."""
        if self._linger <= 0 or loop.time() - self._began.get(key, float("-inf")) >= self._busy:
            return
        waiting = len(self._waiting[key])
        if waiting >= self._limit or (waiting < 2 and self._sizes.get(key, 0) < 2):
            return
        wait = self._first.get(key, loop.time()) + self._linger - loop.time()
        if wait <= 0:
            return
        full = self._full[key] = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(full.wait(), wait)
        finally:
            del self._full[key]

    def _forget(self, now: float) -> None:
        if len(self._began) > REMEMBERED:
            for key in [k for k, at in self._began.items() if now - at >= self._busy]:
                del self._began[key], self._sizes[key]

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
