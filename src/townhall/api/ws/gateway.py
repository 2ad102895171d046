"""The registry of this process's sockets: one bus subscription per channel, shared by all.

A bus message is parsed once here and handed to every local connection on its channel;
each connection only filters it and puts the same text in its queue. Every ~2 s the
gateway tells the room service which members still have a socket open here.

Hallway hints are coalesced here, whichever processes published them: the sockets of this
process get at most one every ``Hints.interval``, which grows with their number so that
the hints (each inviting a client to fetch its hallway again) stay within
``hallway_hint_fanout`` sends a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from townhall.api.ws import protocol
from townhall.bus import EventBus, channels
from townhall.domain.rooms.audience import AudienceDigests
from townhall.domain.rooms.service import Rooms

if TYPE_CHECKING:
    from townhall.api.ws.connection import Connection

logger = logging.getLogger(__name__)

PRESENCE_INTERVAL = 2.0
CLOSE_RESTART = 1012
"""This process is going away: reconnect at once (to another process) and resume; every
command the socket did not answer did not run."""
CLOSE_GOING_AWAY = 1001
"""The process stops without waiting: a command left unanswered may have run."""
CLOSE_TIMEOUT = 5.0
"""How long a closing handshake may wait on a client that does not read."""


@dataclass(frozen=True)
class Hints:
    """How often this process's sockets may be told that the hallway changed."""

    seconds: float
    """At most one hint per this many seconds (``hallway_hint_seconds``)..."""
    fanout: float
    """...and, past that, at most this many hint sends a second (``hallway_hint_fanout``)."""

    def interval(self, sockets: int) -> float:
        return max(self.seconds, sockets / self.fanout)


class Gateway:
    def __init__(
        self,
        bus: EventBus,
        rooms: Rooms,
        digests: AudienceDigests,
        hints: Hints,
        also_present: Callable[[], dict[str, set[int]]] | None = None,
    ):
        self._bus = bus
        self._rooms = rooms
        self._hints = hints
        self._hinted_at = float("-inf")
        self._hint_later: asyncio.TimerHandle | None = None
        # The rooms followed here are the rooms whose audience this process gathers.
        self._digests = digests
        # Other signs of life in this process (open audio connections), room -> user ids.
        self._also_present = also_present
        self._local: dict[str, set[Connection]] = {}
        # Channels the bus delivers to us. Changed only under ``_lock``, except that
        # ``_tidy`` removes a channel *before* awaiting the bus, so an ``attach`` racing it
        # subscribes again instead of trusting a subscription that is going away.
        self._subscribed: set[str] = set()
        self._lock = asyncio.Lock()
        self.connections: set[Connection] = set()
        self.draining = False
        """The process is shutting down: no new socket is served, the open ones are let go."""
        self.slow_closed = 0
        """Sockets closed because their send queue was full (``townhall_websocket_queue_drops``)."""

    async def drain(self, within: float) -> int:
        """Tell every socket here to reconnect elsewhere, each once the commands it already
        took are answered; wait up to ``within`` seconds for them all to close, then close
        the rest. Returns how many sockets were told."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        told: set[Connection] = set()
        # Sockets whose handshake was under way when the drain began register later.
        while self.connections and loop.time() < deadline:
            sockets = tuple(self.connections)
            for conn in sockets:
                conn.drain()
            told.update(sockets)
            await _ended(sockets, deadline - loop.time())
        # Past the grace: a command may be cut off, which 1012 would say did not happen.
        late = tuple(self.connections)
        for conn in late:
            conn.close(CLOSE_GOING_AWAY)
        await _ended(late, 2 * CLOSE_TIMEOUT + 1)
        return len(told)

    async def close(self) -> None:
        self.draining = True
        if self._hint_later is not None:
            self._hint_later.cancel()
            self._hint_later = None
        for conn in tuple(self.connections):
            conn.close(CLOSE_GOING_AWAY)

    async def follow_shared(self) -> None:
        """Receive the channels meant for many sockets at once: large notification fan-outs
        (handed to the listed people's sockets here) and hallway hints (to every socket)."""
        await self._bus.subscribe(channels.NOTIFICATIONS, self._on_shared_notification)
        await self._bus.subscribe(channels.HALLWAY, self._on_hallway_hint)

    def _on_shared_notification(self, channel: str, payload: str) -> None:
        # Runs in the bus reader: never awaits.
        addressed = channels.read_addressed(payload)
        if addressed is None:
            logger.warning("dropping a malformed message on %s", channel)
            return
        to, text = addressed
        local = self._local
        for uid in to:
            conns = local.get(channels.user(uid))
            if conns:
                for conn in tuple(conns):
                    conn.send(text)

    def _on_hallway_hint(self, channel: str, payload: str) -> None:
        # Runs in the bus reader: never awaits. A hint heard while one is due is the same.
        if self._hint_later is not None:
            return
        loop = asyncio.get_running_loop()
        due = self._hinted_at + self._hints.interval(len(self.connections))
        if due <= loop.time():
            self._hint()
        else:
            self._hint_later = loop.call_at(due, self._hint)

    def _hint(self) -> None:
        self._hint_later = None
        self._hinted_at = asyncio.get_running_loop().time()
        for conn in tuple(self.connections):
            conn.send(channels.HALLWAY_HINT)

    async def follow(self, room: str, conn: Connection) -> None:
        """Deliver ``room``'s events, audience digests and audio levels to ``conn``; none
        published after this returns is missed."""
        await self.attach(channels.room(room), conn)
        await self.attach(channels.audience(room), conn)
        await self.attach(channels.levels(room), conn)
        await self._digests.watch(room)

    def unfollow(self, room: str, conn: Connection) -> None:
        self.detach(channels.room(room), conn)
        self.detach(channels.audience(room), conn)
        self.detach(channels.levels(room), conn)

    async def attach(self, channel: str, conn: Connection) -> None:
        """Deliver ``channel`` to ``conn``; once this returns, no later message is missed."""
        self._local.setdefault(channel, set()).add(conn)
        if channel in self._subscribed:
            return
        async with self._lock:
            if channel not in self._subscribed:
                await self._bus.subscribe(channel, self._on_message)
                self._subscribed.add(channel)

    def detach(self, channel: str, conn: Connection) -> None:
        """Stop delivering ``channel`` to ``conn`` now; the bus is let go of by ``_tidy``."""
        conns = self._local.get(channel)
        if conns is not None:
            conns.discard(conn)

    def _on_message(self, channel: str, payload: str) -> None:
        # Runs in the bus reader: never awaits.
        conns = self._local.get(channel)
        if not conns:
            return
        parsed = channels.parse(channel)
        kind, key = parsed if parsed is not None else ("", "")
        if kind == "levels":
            urgent = channels.is_reconnect(payload)
            for conn in tuple(conns):
                conn.on_levels(key, payload, urgent)
        elif kind == "audience":
            roles = channels.read_digest_roles(payload)
            if roles is None:
                logger.warning("dropping a malformed digest on %s", channel)
                return
            for conn in tuple(conns):
                conn.on_digest(key, roles, payload)
        elif kind == "room":
            event = protocol.read_event(payload)
            if event is None:
                logger.warning("dropping a malformed event on %s", channel)
                return
            for conn in tuple(conns):
                conn.on_room_event(event)
        elif kind == "user":
            notice = channels.read_notice(payload)
            if notice is None:
                logger.warning("dropping a malformed notice on %s", channel)
                return
            for conn in tuple(conns):
                conn.on_notice(notice)
        else:
            logger.warning("dropping a message on the unexpected channel %s", channel)

    async def heartbeat(self) -> None:
        """Touch the presence of every member with a socket here, then release idle channels."""
        present: dict[str, set[int]] = defaultdict(set)
        for conn in tuple(self.connections):
            for room in conn.member_rooms():
                present[room].add(conn.user_id)
        if self._also_present is not None:
            for room, user_ids in self._also_present().items():
                present[room] |= user_ids
        for room, user_ids in present.items():
            try:
                await self._rooms.touch(room, sorted(user_ids))
            except Exception:
                logger.exception("touching presence in room %s failed", room)
        await self._tidy()

    async def _tidy(self) -> None:
        async with self._lock:
            for channel in [c for c in self._subscribed if not self._local.get(c)]:
                self._subscribed.discard(channel)
                self._local.pop(channel, None)
                await self._bus.unsubscribe(channel, self._on_message)
                room = channels.room_of(channel)
                if room is not None:
                    await self._digests.unwatch(room)


async def _ended(sockets: tuple[Connection, ...], within: float) -> None:
    """Wait until every one of ``sockets`` has ended, or ``within`` seconds."""
    waits = [asyncio.create_task(conn.ended.wait()) for conn in sockets]
    if waits:
        await asyncio.wait(waits, timeout=within)
    for wait in waits:
        wait.cancel()
