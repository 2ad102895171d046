"""Room logs do not outlive their room for long: ``room_log_retention_seconds`` after a
room ends, its numbered event log (who joined, with names and pictures, every role change)
is deleted. The room's row stays, so its link still says it ended (docs/rooms.md, *After
the end*)."""

from __future__ import annotations

import logging
from datetime import timedelta

from townhall.clock import Clock
from townhall.config import Settings
from townhall.storage import room_logs as store
from townhall.storage.db import Database

logger = logging.getLogger(__name__)

BATCH = 200
"""Rooms whose logs go in one transaction."""

SWEEP_INTERVAL = 60.0
"""Seconds between two sweeps (with ``periodic_sweeps``): a log goes at most this late."""


class RoomLogs:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    async def sweep(self) -> None:
        """Delete the logs of rooms ended more than the retention ago. Safe to run in every
        process at once: deleting twice is nothing."""
        now = self._clock.now()
        before = now - timedelta(seconds=self._settings.room_log_retention_seconds)
        erased = 0
        while True:
            async with self._db.transaction() as tx:
                room_ids = await store.due(tx, before, BATCH)
                await store.erase(tx, room_ids, now)
            erased += len(room_ids)
            if len(room_ids) < BATCH:
                break
        if erased:
            logger.info("deleted the event logs of %s ended rooms", erased)
