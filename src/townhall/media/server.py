"""The embedded media server: every room's sessions, policy and mix in this process.

``MediaServer`` is the aiortc implementation of ``MediaBackend`` (``media.backend``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc.sdp import candidate_from_sdp

from townhall.bus import EventBus, channels
from townhall.clock import Clock, SystemClock
from townhall.config import Settings
from townhall.errors import ConfigError, Conflict, Gone, InvalidInput, NotFound, Unavailable
from townhall.media import ice, native, shim, turn
from townhall.media.backend import Connection, Seed, Which
from townhall.media.incident import RoomBuffer
from townhall.media.mixer import RoomMix
from townhall.media.policy import RoomPolicy
from townhall.media.sealed import SealedStore, check_id
from townhall.media.session import Session, negotiate

logger = logging.getLogger(__name__)


@dataclass
class RoomMedia:
    room_id: str
    policy: RoomPolicy
    mix: RoomMix
    handler: Callable[[str, str], None]
    incident: RoomBuffer | None = None


class MediaServer:
    """Every room's audio in this process: a ``MediaBackend``."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        incidents: SealedStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._clock = clock or SystemClock()
        self.incidents = incidents
        """Where sealed incident audio goes; None: rooms keep no incident buffer."""
        ports = (
            (settings.media_port_min, settings.media_port_max) if settings.media_port_min else None
        )
        self._ports = ice.SharedPorts() if settings.media_shared_port else None
        self._binding = ice.Binding(
            addresses=tuple(settings.media_bind_addresses),
            ports=ports,
            public_ips=tuple(settings.media_public_ips),
            shared=self._ports,
        )
        self._native: native.Native | None = None
        """The native fan-out loop, once ``start`` has loaded it (``media_native_fanout``)."""
        self._rooms: dict[str, RoomMedia] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.relay: Callable[[str, bytes, int], None] | None = None
        """Sends a room's audience payloads to its shards on other workers (a worker sets it)."""

    # --- sessions --------------------------------------------------------------------------

    async def connect(
        self,
        room_id: str,
        user_id: int,
        username: str,
        offer: str,
        seed: Seed,
        auth_session: int | None = None,
        fed: bool = False,
    ) -> dict[str, str]:
        """Answer ``offer``; the person's earlier sessions in the room are replaced.
        ``fed``: a listener of a room mixed on another worker (this one is a fan-out shard)."""
        room = await self._room(room_id, seed, fed)
        if not fed and room.mix.fed:
            # The room's mix moves here (its home was lost): with an incident buffer of its own.
            room.incident = room.mix.incident = self._incident_buffer(room_id)
            if room.incident is not None:
                room.incident.stage(room.policy.stage)
            room.mix.unfeed()
        if not room.policy.live:
            raise Gone("room_ended", "This room has ended.")
        if len(room.mix.sessions) >= self._settings.media_sessions_per_room:
            raise Unavailable("media_full", "This room's audio is full; try again later.")
        self._check_person_cap(user_id, room_id)
        try:
            pc, transceiver, answer, sends = await negotiate(offer, self._binding)
        except ConfigError as exc:
            logger.error("media: %s", exc.message)
            raise Unavailable(
                "media_unavailable", "No audio port is free; try again later."
            ) from None
        session = Session(
            room_id,
            user_id,
            username,
            pc,
            transceiver,
            sends,
            self._settings.media_input_frames,
            self._native,
        )
        session.auth_session = auth_session
        if self._rooms.get(room_id) is not room:
            # Its last connection went while this one was negotiated: open the room again.
            room = await self._room(room_id, seed, fed)
        try:
            # Again, with no await until it is added: offers made at once count each other.
            self._check_person_cap(user_id, room_id)
        except Conflict:
            await session.close()
            raise
        earlier = [s for s in room.mix.sessions.values() if s.user_id == user_id]
        session.attach(on_ready=lambda s: room.mix.ready(), on_gone=self._gone)
        room.mix.add(session)  # before the old ones go, so the room never looks empty
        for old in earlier:
            await self._drop(room, old, "replaced")
        self._spawn(self._expire_unconnected(room, session))
        return {"type": "answer", "sdp": answer, "session": session.id}

    async def add_candidate(
        self,
        room_id: str,
        user_id: int,
        session_id: str,
        candidate: str,
        mid: str | None,
        index: int | None,
    ) -> None:
        session = self._session(room_id, user_id, session_id)
        text = candidate.strip()
        if not text:
            return  # end of candidates
        try:
            parsed = candidate_from_sdp(text.removeprefix("candidate:"))
        except (ValueError, IndexError):
            raise InvalidInput(
                "invalid_candidate", "That ICE candidate could not be read."
            ) from None
        parsed.sdpMid = mid
        parsed.sdpMLineIndex = index
        await session.pc.addIceCandidate(parsed)

    async def hang_up(self, room_id: str, user_id: int, session_id: str) -> None:
        session = self._session(room_id, user_id, session_id)
        await self._drop(self._rooms[room_id], session)

    def _check_person_cap(self, user_id: int, room_id: str) -> None:
        """Each connection holds UDP ports: a person has at most ``media_sessions_per_user``
        here. The one a new connection replaces (in the same room) does not count."""
        cap = self._settings.media_sessions_per_user
        mine = sum(1 for s in self._sessions() if s.user_id == user_id and s.room_id != room_id)
        if mine >= cap:
            raise Conflict(
                "too_many_media_sessions",
                f"You hold the most audio connections allowed at once ({cap}); hang one up first.",
                limit=cap,
            )

    def _sessions(self) -> list[Session]:
        return [s for room in self._rooms.values() for s in room.mix.sessions.values()]

    def connections(self) -> list[Connection]:
        """Every audio connection here, in every room."""
        return [Connection(s.room_id, s.user_id, s.id, s.auth_session) for s in self._sessions()]

    def end(self, which: Which, why: str) -> None:
        """End the connections ``which`` picks: they stop being heard at once (this never
        awaits), closing follows in a task."""
        for room in self._rooms.values():
            picked = [
                s for s in room.mix.sessions.values() if which.picks(s.user_id, s.auth_session)
            ]
            for s in picked:
                s.stop_hearing()
                self._spawn(self._drop(room, s, why))

    def ice_servers(self, turn_for: str | None) -> dict[str, Any]:
        return turn.ice_config(self._settings, self._clock.now(), turn_for)

    def present(self) -> dict[str, set[int]]:
        """Who has a working audio connection, per room: a sign of life like a socket."""
        return {
            room_id: {s.user_id for s in room.mix.sessions.values() if s.outlet is not None}
            for room_id, room in self._rooms.items()
        }

    async def start(self) -> None:
        """Check what aiortc and aioice look like (``shim.check``: a changed version fails
        here, loudly), load the native fan-out loop, then follow seal requests: a report
        may be filed in any process, the room's audio is in one."""
        await shim.check()
        if self._settings.media_native_fanout:
            # Built once per machine (cached); a build takes a few seconds of this thread.
            self._native = await asyncio.to_thread(native.load)
        await self._bus.subscribe(channels.INCIDENTS, self._on_seal_request)

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            await self._close_room(room)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._bus.unsubscribe(channels.INCIDENTS, self._on_seal_request)
        if self._ports is not None:
            self._ports.close()
        if self.incidents is not None:
            await self.incidents.close()

    # --- incident audio (S8) -----------------------------------------------------------------

    def _on_seal_request(self, channel: str, payload: str) -> None:
        request = channels.read_seal_request(payload)
        if request is None or request[0] not in self._rooms:
            return
        try:
            self.seal(*request)
        except ValueError:
            logger.warning("media: a seal request with a bad incident id: %s", request[1])

    def seal(self, room_id: str, incident_id: str) -> str | None:
        """Keep a live room's incident buffer, and its audio from now until it ends, on
        disk under ``incident_id``; the id it is kept under (an earlier incident's when the
        room was sealed before, this one then pointing there), or None when this process
        holds no buffer for the room (not live here, or buffering is off)."""
        check_id(incident_id)
        room = self._rooms.get(room_id)
        buffer = room.incident if room is not None else None
        store = self.incidents
        if buffer is None or buffer.closed or store is None or buffer.key is None:
            return None
        if buffer.incident_id is not None:
            if buffer.incident_id != incident_id:
                store.begin(incident_id, buffer.key, same_as=buffer.incident_id)
            return buffer.incident_id
        store.begin(incident_id, buffer.key)
        for index, sealed in buffer.seal(
            incident_id, lambda index, sealed: store.write(incident_id, index, sealed)
        ):
            store.write(incident_id, index, sealed)
        logger.info("media: room %s's audio sealed as incident %s", room_id, incident_id)
        return incident_id

    async def sweep_incidents(self) -> None:
        """Destroy sealed incident audio past its retention."""
        if self.incidents is not None:
            await self.incidents.sweep()

    def buffers(self) -> dict[str, RoomBuffer]:
        """The incident buffer of every room whose audio is here."""
        return {
            room_id: room.incident
            for room_id, room in self._rooms.items()
            if room.incident is not None
        }

    def _session(self, room_id: str, user_id: int, session_id: str) -> Session:
        room = self._rooms.get(room_id)
        session = room.mix.sessions.get(session_id) if room else None
        if session is None or session.user_id != user_id:
            raise NotFound("media_session_not_found", "There is no such audio connection.")
        return session

    # --- rooms -----------------------------------------------------------------------------

    def feed(self, room_id: str, payload: bytes, samples: int) -> None:
        """An audience payload of a room mixed elsewhere, for its listeners here."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.mix.feed(payload, samples)

    def drop_person(self, room_id: str, user_id: int, why: str) -> None:
        """End the person's connections in the room here (a new one is on another worker)."""
        room = self._rooms.get(room_id)
        if room is None:
            return
        for s in [s for s in room.mix.sessions.values() if s.user_id == user_id]:
            s.stop_hearing()
            self._spawn(self._drop(room, s, why))

    def _incident_buffer(self, room_id: str) -> RoomBuffer | None:
        """A new incident buffer for a room mixed here (None: buffering is off)."""
        settings = self._settings
        if self.incidents is None or settings.incident_buffer_seconds <= 0:
            return None
        return RoomBuffer(
            room_id,
            settings.incident_buffer_seconds,
            settings.incident_chunk_seconds,
            settings.media_audience_frame_ms,
            settings.media_levels_interval_ms,
            self._clock.now,
        )

    async def _room(self, room_id: str, seed: Seed, fed: bool = False) -> RoomMedia:
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        lock = self._opening.setdefault(room_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(room_id)
            if room is not None:
                return room
            policy = RoomPolicy()
            roster = channels.roster(room_id)
            settings = self._settings
            incident = None if fed else self._incident_buffer(room_id)
            mix = RoomMix(
                policy,
                settings.media_bitrate,
                settings.media_audience_frame_ms,
                settings.media_levels_interval_ms,
                # Unnumbered and not kept: a late listener needs only the next one.
                on_levels=lambda levels: self._spawn(
                    self._bus.publish(
                        channels.levels(room_id), channels.levels_event(room_id, levels)
                    )
                ),
                incident=incident,
                native=self._native,
            )
            mix.fed = fed
            relay = self.relay
            if relay is not None:
                mix.relay = lambda payload, samples: relay(room_id, payload, samples)

            def on_message(channel: str, payload: str) -> None:
                if channel == roster:
                    policy.apply_roster(payload)
                else:
                    policy.apply(payload)

            room = RoomMedia(room_id, policy, mix, on_message, incident)
            policy.on_change = lambda username, what: self._obey(room, username, what)
            # Listen first, then read the state: nothing said in between is missed.
            await self._bus.subscribe(channels.room(room_id), on_message)
            await self._bus.subscribe(roster, on_message)
            try:
                policy.seed(await seed())
            except BaseException:
                await self._bus.unsubscribe(channels.room(room_id), on_message)
                await self._bus.unsubscribe(roster, on_message)
                raise
            self._rooms[room_id] = room
            self._opening.pop(room_id, None)
            return room

    def _obey(self, room: RoomMedia, username: str, what: str) -> None:
        # Runs inside the bus reader: the mix changes now, closing waits for a task.
        if room.incident is not None:
            room.incident.stage(room.policy.stage)
        if what == "stage":
            room.mix.refresh(username)
        elif what == "left":
            for s in [s for s in room.mix.sessions.values() if s.username == username]:
                s.stop_hearing()
                self._spawn(self._drop(room, s, "left the room"))
        elif what == "ended":
            for s in room.mix.sessions.values():
                s.stop_hearing()
            self._spawn(self._close_room(room))

    def _gone(self, session: Session) -> None:
        room = self._rooms.get(session.room_id)
        if room is not None:
            self._spawn(self._drop(room, session, f"connection {session.pc.connectionState}"))

    async def _drop(self, room: RoomMedia, session: Session, why: str = "hung up") -> None:
        if not session.closed:
            logger.info(
                "media: %s's connection in room %s closed: %s", session.username, room.room_id, why
            )
        room.mix.remove(session)
        await session.close()
        if room.mix.empty and self._rooms.get(room.room_id) is room:
            await self._close_room(room)

    async def _close_room(self, room: RoomMedia) -> None:
        if self._rooms.get(room.room_id) is not room:
            return
        del self._rooms[room.room_id]
        await self._bus.unsubscribe(channels.room(room.room_id), room.handler)
        await self._bus.unsubscribe(channels.roster(room.room_id), room.handler)
        await room.mix.close()
        self._end_incident(room)
        for session in list(room.mix.sessions.values()):
            room.mix.remove(session)
            await session.close()

    def _end_incident(self, room: RoomMedia) -> None:
        """The room's audio ended here: a sealed buffer writes its last chunk; every buffer
        drops its chunks and its key."""
        buffer, room.incident, room.mix.incident = room.incident, None, None
        if buffer is None:
            return
        sealed_as = buffer.incident_id
        buffer.close()
        if sealed_as is not None and self.incidents is not None:
            self.incidents.end(sealed_as)

    async def _expire_unconnected(self, room: RoomMedia, session: Session) -> None:
        await asyncio.sleep(self._settings.media_connect_timeout_seconds)
        if session.outlet is None and not session.closed:
            await self._drop(room, session, "never connected")

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
