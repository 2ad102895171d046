"""The audience is state, not a log: digests of who came into a room and who went.

A listener's arrival, departure, going away or coming back is not a numbered event for
everyone in the room. The change is published once on the room's ``roster:`` channel; the
process that leads the room's digest (one per room in the whole deployment: the bus's
lease, ``EventBus.lead``) gathers those changes and, at most once per interval, reads the
room's state for the people concerned and publishes ``audience.changed`` on its
``audience:`` channel:

- to the people on stage every ``room_digest_seconds`` (1 s), with the listeners who
  came in or changed and the usernames of those who went (each list at most
  ``room_digest_names`` long);
- to the listeners as often, but never so often that the room sends more than
  ``room_digest_fanout`` digests a second to its audience: a room of 5,000 tells its
  listeners about every 50 s, so that a room filling up costs O(1) messages per arrival.

Every process that has sockets following the room gathers the changes (the lease may move
to it when the leader dies); only the leader reads and publishes. A digest after a change
of leader, or after a gathered list overflowed, says ``complete: false``: the client then
reads ``/audience`` again. So does the first leader's when another process, at its first
tick, held changes from before that leader listened (``roster_missed``). The count is
always read from the database, so it is exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from townhall.bus import EventBus, channels
from townhall.config import Settings
from townhall.domain.rooms.shared import SharedSnapshots
from townhall.domain.rooms.views import member_data
from townhall.storage import rooms as store
from townhall.storage.db import Database

logger = logging.getLogger(__name__)

STAGE_PART = ["moderator", "speaker"]
AUDIENCE_PART = ["listener"]


@dataclass
class Window:
    """The listeners changed since one part of the room was last told (bounded)."""

    limit: int
    touched: dict[int, str] = field(default_factory=dict)
    """User id → username, in the order they first changed."""
    overflowed: bool = False

    def add(self, change: channels.RosterChange) -> None:
        if change.user_id in self.touched or len(self.touched) < self.limit:
            self.touched[change.user_id] = change.username
        else:
            self.overflowed = True

    def take(self) -> tuple[dict[int, str], bool]:
        taken = (self.touched, not self.overflowed)
        self.touched, self.overflowed = {}, False
        return taken


@dataclass
class RoomDigest:
    """What one process gathered about one room's audience."""

    stage: Window
    audience: Window
    leading: bool = False
    new: bool = True
    """No tick has run since this process started watching the room."""
    told_stage: int | None = None
    told_audience: int | None = None
    """The counts last published to each part."""
    audience_at: float = float("-inf")
    """When the listeners were last told (the event loop's clock)."""


class AudienceDigests:
    """Owns the rooms this process watches; ``tick`` runs every ``room_digest_seconds``."""

    def __init__(
        self, db: Database, settings: Settings, bus: EventBus, shared: SharedSnapshots
    ) -> None:
        self._db = db
        self._settings = settings
        self._bus = bus
        # The rooms' shared snapshot parts, kept while their roster is heard here.
        self._shared = shared
        self._rooms: dict[str, RoomDigest] = {}

    async def watch(self, room_id: str) -> None:
        """Gather the room's changes (sockets here follow it); idempotent."""
        if room_id in self._rooms:
            return
        names = self._settings.room_digest_names
        self._rooms[room_id] = RoomDigest(Window(names), Window(names))
        await self._bus.subscribe(channels.roster(room_id), self._on_change)
        if room_id in self._rooms:
            self._shared.watch(room_id)

    async def unwatch(self, room_id: str) -> None:
        if self._rooms.pop(room_id, None) is not None:
            self._shared.unwatch(room_id)
            await self._bus.unsubscribe(channels.roster(room_id), self._on_change)

    def _on_change(self, channel: str, payload: str) -> None:
        # Runs in the bus reader: never awaits.
        missed = channels.read_roster_missed(payload)
        if missed is not None:
            # Whoever leads at the next tick publishes a digest that says it is not complete
            # (a process that does not lead drops what it gathered at that tick).
            if (digest := self._rooms.get(missed)) is not None:
                digest.stage.overflowed = digest.audience.overflowed = True
            self._shared.changed(missed, None)
            return
        change = channels.read_roster(payload)
        digest = self._rooms.get(change.room) if change is not None else None
        if change is not None and digest is not None:
            digest.stage.add(change)
            digest.audience.add(change)
            self._shared.changed(change.room, change.user_id)

    async def tick(self, now: float) -> None:
        """Publish the digests that are due in the rooms this process leads."""
        seconds = self._settings.room_digest_seconds
        for room_id, digest in list(self._rooms.items()):
            try:
                leading = await self._bus.lead(f"digest:{room_id}", 3 * seconds)
            except Exception:
                logger.exception("leading the digest of room %s failed", room_id)
                leading = False
            first = digest.new
            took_over = leading and not digest.leading and not first
            digest.leading, digest.new = leading, False
            if not leading:
                held = _changed(digest.stage) or _changed(digest.audience)
                digest.stage.take()
                digest.audience.take()
                digest.told_stage = digest.told_audience = None
                if first and held:
                    # The leader may have begun to listen after these changes: it is told
                    # that its gathering misses some, so its next digest says so.
                    await self._say_missed(room_id)
                continue
            if took_over:
                # Another process told the room until now: what it gathered is lost.
                digest.stage.overflowed = digest.audience.overflowed = True
            try:
                await self._tell(room_id, digest, now)
            except Exception:
                logger.exception("the audience digest of room %s failed", room_id)

    async def _say_missed(self, room_id: str) -> None:
        try:
            await self._bus.publish(channels.roster(room_id), channels.roster_missed(room_id))
        except Exception:
            logger.exception("telling room %s's digest leader what it missed failed", room_id)

    async def _tell(self, room_id: str, digest: RoomDigest, now: float) -> None:
        s = self._settings
        # Listeners are told at most room_digest_fanout times a second in all: with N
        # listeners, every N / room_digest_fanout seconds. The count last told bounds the
        # wait here; the count about to be told decides below (a room filling up would
        # otherwise be told twice as often as it may).
        due = now - digest.audience_at >= max(
            s.room_digest_seconds, (digest.told_audience or 0) / s.room_digest_fanout
        )
        if not _changed(digest.stage) and not (due and _changed(digest.audience)):
            return
        async with self._db.transaction() as tx:
            # The row lock orders this read after any stage change in flight, so the group
            # of each listener is the one the stage it will be shown with gives.
            room = await store.lock_room(tx, room_id)
            if room is None or room.status != "live":
                return
            listeners = await store.count_listeners(tx, room_id)
            due = due and now - digest.audience_at >= listeners / s.room_digest_fanout
            if not _changed(digest.stage) and not (due and _changed(digest.audience)):
                return
            stage, stage_complete = digest.stage.take()
            audience: dict[int, str] = {}
            audience_complete = True
            if due:
                audience, audience_complete = digest.audience.take()
            ids = sorted(set(stage) | set(audience))
            rows = await store.listeners_among(tx, room_id, ids)
            followed = set(await store.listeners_followed_by_stage(tx, room_id, ids))
            present = set(await store.members_among(tx, room_id, ids))
        views = {
            # Without the shield: a digest goes to everyone alike, the shield is per viewer.
            u.id: member_data(m, u, "followed_by_speakers" if u.id in followed else "others")
            for m, u in rows
        }

        def data(touched: dict[int, str], complete: bool) -> dict[str, object]:
            return {
                "listeners": listeners,
                "members": [views[i] for i in touched if i in views],
                "left": [name for i, name in touched.items() if i not in present],
                "complete": complete,
            }

        if stage or not stage_complete:
            digest.told_stage = listeners
            await self._bus.publish(
                channels.audience(room_id),
                channels.digest_event(room_id, STAGE_PART, data(stage, stage_complete)),
            )
        if due and (audience or not audience_complete):
            digest.told_audience, digest.audience_at = listeners, now
            await self._bus.publish(
                channels.audience(room_id),
                channels.digest_event(room_id, AUDIENCE_PART, data(audience, audience_complete)),
            )


def _changed(window: Window) -> bool:
    return bool(window.touched) or window.overflowed
