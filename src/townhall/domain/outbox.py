"""The transactional outbox: work that follows a change, done after it by an owned worker.

A change that others must hear about writes a row here *in its own transaction*
(``put``): a happening to tell (``domain/happenings.py``), a mail to send. The row commits
or rolls back with the change, so nothing is told about a change that did not happen, and
nothing is lost when the process dies between the commit and the telling. The request
that made the change does not wait: the ``OutboxWorker`` of some process takes the row
later, hands its body to the handler of its topic, and deletes it.

- **Promptly.** A commit that wrote rows wakes this process's worker (an ``asyncio.Event``
  set after the commit). Every ``outbox_poll_seconds`` it also looks for rows left by other
  processes: ones whose worker is off (``outbox_worker = false``), the command line, or
  one that died holding a lease.
- **Several processes.** Rows are claimed in a short transaction that leases them
  (``storage/outbox.py``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's single
  writer), so two workers never take the same row at once.
- **At least once.** A row is deleted only after its handler returned. A handler that
  raises leaves it for another attempt after a back-off (1 s, doubling, at most
  ``RETRY_MAX``); a worker that dies leaves it for after its lease. Handlers therefore
  tolerate being given the same row twice: a happening carries a key, and a notification
  with a key is stored once (``storage/notifications.add_notification``).
- **Order.** Rows are taken oldest first, but a row that fails waits while later ones go
  on, and several workers run side by side: handlers must not rely on order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.storage import outbox as store
from townhall.storage.db import Database, after_commit
from townhall.tasks import stop

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

BATCH = 20
"""Rows claimed at a time; the lease must outlast delivering all of them."""
RETRY_FIRST = 1.0
RETRY_MAX = 900.0
"""Seconds: the longest wait between two attempts at a failing row (never given up)."""
LOUD_AFTER = 10
"""Failed attempts (about 17 minutes) after which each failure is logged as an error."""


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt, after ``attempts`` failed ones."""
    return float(min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts - 1)))


class OutboxWorker:
    """Writes outbox rows in callers' transactions; delivers them once started."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._enabled = settings.outbox_worker
        self._poll = settings.outbox_poll_seconds
        self._lease = timedelta(seconds=settings.outbox_lease_seconds)
        self._handlers: dict[str, Handler] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # For ``settled``: commits seen (pokes) and the last poke after which a claim
        # found nothing due.
        self._pokes = 0
        self._settled_at = 0
        self._settled = asyncio.Event()

    def handle(self, topic: str, handler: Handler) -> None:
        """Rows of ``topic`` go to ``handler`` (one per topic, registered at start-up)."""
        assert topic not in self._handlers, topic
        self._handlers[topic] = handler

    # --- writing ---------------------------------------------------------------------------

    async def put(self, tx: AsyncSession, topic: str, *bodies: dict[str, Any]) -> None:
        """Write rows in the caller's transaction; the worker is woken once it commits.
        Each body must be JSON: it is stored as JSON and handed back parsed."""
        await store.add(tx, topic, list(bodies), self._clock.now())
        if not tx.info.get("outbox_poke"):
            tx.info["outbox_poke"] = True
            after_commit(tx, self.poke)

    def poke(self) -> None:
        """There may be new rows: look now."""
        self._pokes += 1
        self._wake.set()

    # --- delivering ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None and self._enabled:
            self.poke()  # rows left from before start
            self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop(task)
        self._settled.set()  # nobody waits for a worker that is gone

    async def settled(self) -> None:
        """Wait until every row committed in this process so far has been delivered, or is
        waiting for its back-off or for another process. Returns at once when no worker runs
        here. For tests and benchmarks: requests never wait for the outbox."""
        target = self._pokes
        while self._task is not None and self._settled_at < target:
            await self._settled.wait()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            seen = self._pokes
            try:
                taken = await self._deliver_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is unreachable, say: try again at the next poll.
                logger.exception("the outbox worker failed; trying again in %s s", self._poll)
                taken = 0
            if taken:
                continue
            self._settled_at = seen
            self._settled.set()
            self._settled = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def _deliver_batch(self) -> int:
        now = self._clock.now()
        async with self._db.transaction() as tx:
            rows = await store.claim(tx, now, now + self._lease, BATCH)
        for row in rows:
            await self._deliver(row.id, row.topic, row.body, row.attempts)
        return len(rows)

    async def _deliver(self, row_id: int, topic: str, body: dict[str, Any], attempts: int) -> None:
        try:
            handler = self._handlers.get(topic)
            if handler is None:
                # Perhaps a newer version wrote it: leave it for a process that knows it.
                raise LookupError(f"no handler for outbox topic {topic!r}")
            await handler(body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            wait = backoff(attempts)
            # Loud once it has failed for a while: it is kept and tried on, for an operator.
            level = logging.ERROR if attempts >= LOUD_AFTER else logging.WARNING
            logger.log(
                level,
                "outbox row %s (%s) failed, attempt %s; next in %.0f s",
                row_id,
                topic,
                attempts,
                wait,
                exc_info=True,
            )
            async with self._db.transaction() as tx:
                at = self._clock.now() + timedelta(seconds=wait)
                await store.retry(tx, row_id, at, f"{type(exc).__name__}: {exc}")
            return
        async with self._db.transaction() as tx:
            await store.done(tx, row_id)

    async def pending(self) -> int:
        """Rows not yet done, due or not (for operators and tests)."""
        async with self._db.transaction() as tx:
            return await store.pending(tx)


__all__ = ["OutboxWorker", "backoff"]
