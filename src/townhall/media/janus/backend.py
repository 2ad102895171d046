"""The Janus media plane: a ``MediaBackend`` that drives Janus instances through their API.

Clients do not change: they offer to ``/api/rooms/{id}/media`` as they would to the embedded
server, and this backend relays the offer to Janus (``sdp``: a sending person's offer goes to
the room's AudioBridge room as it is; a listener's is paired with a Streaming mountpoint's
offer). Rooms are placed on instances by load; one room's audience spreads over mountpoints
on several instances. An instance that dies is noticed through its socket (closed, or pings
unanswered): its connections end (their clients make new ones, placed on the live
instances), and a room whose mix was there gets a new AudioBridge room elsewhere, forwarding
to the mountpoints that remain. See docs/voice.md ("Janus").
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any

from townhall.bus import EventBus, channels
from townhall.clock import Clock, SystemClock
from townhall.config import Settings
from townhall.errors import Conflict, Gone, NotFound, Unavailable
from townhall.media import turn
from townhall.media.backend import Connection, Seed, Which
from townhall.media.incident import RoomBuffer
from townhall.media.janus import forward, sdp
from townhall.media.janus.api import JanusError
from townhall.media.janus.instance import AUDIOBRIDGE, STREAMING, Instance
from townhall.media.janus.room import JanusRoom, Link
from townhall.media.policy import RoomPolicy
from townhall.media.sealed import SealedStore, check_id

logger = logging.getLogger(__name__)


class JanusBackend:
    """Every room's audio on Janus: a ``MediaBackend``."""

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
        secret = settings.media_janus_api_secret
        key = settings.media_janus_admin_key
        self._admin_key = key.get_secret_value() if key is not None else None
        self.instances = [
            Instance(
                f"janus{index}",
                entry.url,
                entry.forward_address,
                secret.get_secret_value() if secret is not None else None,
                self._on_event,
                self._on_up,
                self._on_down,
            )
            for index, entry in enumerate(settings.media_janus_instances)
        ]
        self._rooms: dict[str, JanusRoom] = {}
        self._bridges: dict[int, JanusRoom] = {}
        self._handles: dict[tuple[str, int], Link] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runs: list[asyncio.Task[None]] = []

    # --- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to every instance (waiting until one at least is up), then follow seal
        requests."""
        self._runs = [asyncio.create_task(i.run(), name=f"janus-{i.name}") for i in self.instances]
        waits = [asyncio.create_task(i.ready.wait()) for i in self.instances]
        done, _ = await asyncio.wait(
            waits,
            timeout=self._settings.media_connect_timeout_seconds,
            return_when="FIRST_COMPLETED",
        )
        for wait in waits:
            wait.cancel()
        if not done:
            logger.error("janus: no instance answered yet; audio is unavailable until one does")
        if self.incidents is not None and not self._settings.media_janus_forward_address:
            logger.warning(
                "janus: media_janus_forward_address is not set: rooms keep no incident audio"
            )
        await self._bus.subscribe(channels.INCIDENTS, self._on_seal_request)

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            await self._close_room(room)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for instance in self.instances:
            await instance.close()
        for run in self._runs:
            run.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        await self._bus.unsubscribe(channels.INCIDENTS, self._on_seal_request)
        if self.incidents is not None:
            await self.incidents.close()

    # --- connections -----------------------------------------------------------------------

    async def connect(
        self,
        room_id: str,
        user_id: int,
        username: str,
        offer: str,
        seed: Seed,
        auth_session: int | None = None,
    ) -> dict[str, str]:
        described = sdp.read_offer(offer)
        room = await self._room(room_id, seed)
        if not room.policy.live:
            raise Gone("room_ended", "This room has ended.")
        if len(room.links) >= self._settings.media_sessions_per_room:
            raise Unavailable("media_full", "This room's audio is full; try again later.")
        self._check_person_cap(user_id, room_id)
        room.pending += 1
        try:
            link, answer = await self._negotiate(
                room, user_id, username, auth_session, described, offer
            )
        except JanusError as exc:
            logger.warning("janus: %s's offer in room %s failed: %s", username, room_id, exc)
            raise Unavailable(
                "media_unavailable", "Audio is unavailable; try again later."
            ) from None
        finally:
            room.pending -= 1
        if room.closed or not room.policy.live:
            await self._drop(room, link, "the room closed meanwhile")
            raise Gone("room_ended", "This room has ended.")
        earlier = [x for x in room.links.values() if x.user_id == user_id and x is not link]
        room.links[link.id] = link
        for old in earlier:
            await self._drop(room, old, "replaced")
        self._spawn(self._expire_unconnected(room, link))
        return {"type": "answer", "sdp": answer, "session": link.id}

    async def _negotiate(
        self,
        room: JanusRoom,
        user_id: int,
        username: str,
        auth_session: int | None,
        offer: sdp.Description,
        text: str,
    ) -> tuple[Link, str]:
        sends = offer.direction == "sendrecv"
        if sends:
            instance = await room.ensure_bridge(self._choose)
        else:
            instance = self._place(room, offer.opus or 111)
        handle = await instance.api.attach(AUDIOBRIDGE if sends else STREAMING)
        link = Link(
            secrets.token_urlsafe(12),
            room.room_id,
            user_id,
            username,
            auth_session,
            instance,
            handle,
            sends,
        )
        self._handles[(instance.name, handle)] = link
        instance.load += 1
        try:
            if sends:
                answer = await room.join(link, text)
            else:
                mountpoint = await room.ensure_mountpoint(instance, offer.opus or 111, self._choose)
                answer = await room.watch(link, offer, mountpoint)
        except BaseException:
            await self._drop(room, link, "negotiation failed")
            raise
        return link, answer

    async def add_candidate(
        self,
        room_id: str,
        user_id: int,
        session_id: str,
        candidate: str,
        mid: str | None,
        index: int | None,
    ) -> None:
        link = self._link(room_id, user_id, session_id)
        text = candidate.strip()
        try:
            if not text:
                await link.instance.api.trickle(link.handle, None)
                return
            if not text.startswith("candidate:"):
                text = "candidate:" + text
            # A listener's PeerConnection is one stream to Janus whatever the client calls it.
            await link.instance.api.trickle(
                link.handle,
                {"candidate": text, "sdpMid": mid if link.sends else "a", "sdpMLineIndex": 0},
            )
        except JanusError as exc:
            logger.info("janus: a candidate for %s was not taken: %s", link.username, exc)

    async def hang_up(self, room_id: str, user_id: int, session_id: str) -> None:
        link = self._link(room_id, user_id, session_id)
        await self._drop(self._rooms[room_id], link)

    def _link(self, room_id: str, user_id: int, session_id: str) -> Link:
        room = self._rooms.get(room_id)
        link = room.links.get(session_id) if room else None
        if link is None or link.user_id != user_id:
            raise NotFound("media_session_not_found", "There is no such audio connection.")
        return link

    def _check_person_cap(self, user_id: int, room_id: str) -> None:
        cap = self._settings.media_sessions_per_user
        mine = sum(
            1 for link in self._links() if link.user_id == user_id and link.room_id != room_id
        )
        if mine >= cap:
            raise Conflict(
                "too_many_media_sessions",
                f"You hold the most audio connections allowed at once ({cap}); hang one up first.",
                limit=cap,
            )

    def _links(self) -> list[Link]:
        return [link for room in self._rooms.values() for link in room.links.values()]

    def connections(self) -> list[Connection]:
        return [Connection(x.room_id, x.user_id, x.id, x.auth_session) for x in self._links()]

    def present(self) -> dict[str, set[int]]:
        return {
            room_id: {x.user_id for x in room.links.values() if x.up and not x.closed}
            for room_id, room in self._rooms.items()
        }

    def end(self, which: Which, why: str) -> None:
        for room in self._rooms.values():
            for link in [x for x in room.links.values() if which.picks(x.user_id, x.auth_session)]:
                room.silence(link)
                self._spawn(self._drop(room, link, why))

    def ice_servers(self, turn_for: str | None) -> dict[str, Any]:
        return turn.ice_config(self._settings, self._clock.now(), turn_for)

    # --- placement -------------------------------------------------------------------------

    def _live(self) -> list[Instance]:
        live = [i for i in self.instances if i.up]
        if not live:
            raise Unavailable("media_unavailable", "Audio is unavailable; try again later.")
        return live

    def _choose(self) -> Instance:
        """Where a new room's mix goes: the instance with the fewest connections."""
        return min(self._live(), key=lambda i: i.load)

    def _place(self, room: JanusRoom, pt: int) -> Instance:
        """Where a listener goes: an instance already carrying the room's audience while it
        has room, else the least loaded (a room's audience spreads over instances)."""
        live = self._live()
        cap = self._settings.media_janus_instance_connections
        carrying = [m.instance for m in room.mountpoints.values() if m.instance.up]
        open_ = [i for i in carrying if i.load < cap]
        if open_:
            return min(open_, key=lambda i: i.load)
        return min(live, key=lambda i: i.load)

    # --- what Janus says -------------------------------------------------------------------

    def _on_event(self, instance: Instance, handle: int, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        if kind == "event":
            data = message.get("plugindata", {}).get("data", {})
            what = data.get("audiobridge")
            if what in ("talking", "stopped-talking"):
                room = self._bridges.get(data.get("room", 0))
                if room is not None and room.home is instance:
                    room.talk(int(data.get("id", 0)), what == "talking")
            return
        link = self._handles.get((instance.name, handle))
        if link is None:
            return
        if kind == "webrtcup":
            link.up = True
        elif kind in ("hangup", "detached"):
            room = self._rooms.get(link.room_id)
            if room is not None:
                self._spawn(self._drop(room, link, f"Janus: {message.get('reason', kind)}"))

    def _on_up(self, instance: Instance) -> None:
        logger.info("janus: placing audio on %s again", instance.url)

    def _on_down(self, instance: Instance) -> None:
        """An instance died: its connections are gone, its mountpoints too; rooms whose mix
        was there move it to a live instance, feeding the mountpoints that remain."""
        for key in [k for k in self._handles if k[0] == instance.name]:
            link = self._handles.pop(key)
            link.closed = True
            room = self._rooms.get(link.room_id)
            if room is not None:
                room.links.pop(link.id, None)
        for room in list(self._rooms.values()):
            lost_home = room.home is instance
            room.lose(instance)
            if lost_home:
                self._bridges.pop(room.bridge, None)
            if room.empty:
                self._spawn(self._close_room(room))
            elif lost_home:
                self._spawn(self._rehome(room))

    async def _rehome(self, room: JanusRoom) -> None:
        try:
            await room.ensure_bridge(self._choose)
        except (JanusError, Unavailable) as exc:
            logger.warning("janus: room %s's mix could not move: %s", room.room_id, exc)
            return
        self._bridges[room.bridge] = room
        logger.info("janus: room %s's mix moved to %s", room.room_id, room.home and room.home.url)

    # --- rooms -----------------------------------------------------------------------------

    async def _room(self, room_id: str, seed: Seed) -> JanusRoom:
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        lock = self._opening.setdefault(room_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(room_id)
            if room is not None:
                return room
            room = JanusRoom(
                room_id,
                RoomPolicy(),
                self._settings,
                self._admin_key,
                # Unnumbered and not kept: a late listener needs only the next one.
                lambda levels: self._spawn(
                    self._bus.publish(
                        channels.levels(room_id), channels.levels_event(room_id, levels)
                    )
                ),
            )
            roster = channels.roster(room_id)

            def on_message(channel: str, payload: str) -> None:
                if channel == roster:
                    room.policy.apply_roster(payload)
                else:
                    room.policy.apply(payload)

            room.handler = on_message
            room.policy.on_change = lambda username, what: self._obey(room, username, what)
            await self._bus.subscribe(channels.room(room_id), on_message)
            await self._bus.subscribe(roster, on_message)
            try:
                room.policy.seed(await seed())
                await self._open_incident(room)
                await room.ensure_bridge(self._choose)
            except BaseException:
                await self._bus.unsubscribe(channels.room(room_id), on_message)
                await self._bus.unsubscribe(roster, on_message)
                await room.stop()
                await room.destroy()
                raise
            self._bridges[room.bridge] = room
            room.start()
            self._rooms[room_id] = room
            self._opening.pop(room_id, None)
            return room

    async def _open_incident(self, room: JanusRoom) -> None:
        settings = self._settings
        address = settings.media_janus_forward_address
        if self.incidents is None or settings.incident_buffer_seconds <= 0 or not address:
            return
        buffer = RoomBuffer(
            room.room_id,
            settings.incident_buffer_seconds,
            settings.incident_chunk_seconds,
            20,  # AudioBridge forwards 20 ms packets
            settings.media_levels_interval_ms,
            self._clock.now,
        )
        room.incident = buffer
        room.receiver, room.receiver_port = await forward.listen(address, room.key, buffer.audio)
        buffer.stage(room.policy.stage)

    def _obey(self, room: JanusRoom, username: str, what: str) -> None:
        # Runs inside the bus reader: orders go to Janus now, in order; closing follows.
        if room.incident is not None:
            room.incident.stage(room.policy.stage)
        if what == "stage":
            if not room.policy.may_speak(username):
                room.talking.discard(username)
            room.heed(username)
        elif what == "left":
            for link in [x for x in room.links.values() if x.username == username]:
                room.silence(link)
                self._spawn(self._drop(room, link, "left the room"))
        elif what == "ended":
            for link in room.links.values():
                room.silence(link)
            self._spawn(self._close_room(room))

    async def _drop(self, room: JanusRoom, link: Link, why: str = "hung up") -> None:
        if link.closed:
            return
        link.closed = True
        logger.info(
            "media: %s's connection in room %s closed: %s", link.username, room.room_id, why
        )
        if room.links.get(link.id) is link:
            del room.links[link.id]
        if self._handles.pop((link.instance.name, link.handle), None) is not None:
            link.instance.load -= 1
        room.participants.pop(link.participant, None)
        if link.instance.up:
            try:
                await link.instance.api.detach(link.handle)
            except JanusError:
                pass
        if room.empty and self._rooms.get(room.room_id) is room:
            await self._close_room(room)

    async def _close_room(self, room: JanusRoom) -> None:
        if self._rooms.get(room.room_id) is not room:
            return
        del self._rooms[room.room_id]
        self._bridges.pop(room.bridge, None)
        # With the room gone from ``buffers()``, its buffer is done: no await in between.
        self._end_incident(room)
        await self._bus.unsubscribe(channels.room(room.room_id), room.handler)
        await self._bus.unsubscribe(channels.roster(room.room_id), room.handler)
        await room.stop()
        for link in list(room.links.values()):
            await self._drop(room, link, "the room's audio closed")
        await room.destroy()

    async def _expire_unconnected(self, room: JanusRoom, link: Link) -> None:
        await asyncio.sleep(self._settings.media_connect_timeout_seconds)
        if not link.up and not link.closed:
            await self._drop(room, link, "never connected")

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- incident audio (S8) ---------------------------------------------------------------

    def _on_seal_request(self, channel: str, payload: str) -> None:
        request = channels.read_seal_request(payload)
        if request is None or request[0] not in self._rooms:
            return
        try:
            self.seal(*request)
        except ValueError:
            logger.warning("media: a seal request with a bad incident id: %s", request[1])

    def seal(self, room_id: str, incident_id: str) -> str | None:
        """As ``MediaServer.seal``: the room's buffered mix, and the rest until it ends, on
        disk under ``incident_id``; the id it is kept under, or None."""
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
        if self.incidents is not None:
            await self.incidents.sweep()

    def buffers(self) -> dict[str, RoomBuffer]:
        return {
            rid: room.incident for rid, room in self._rooms.items() if room.incident is not None
        }

    def _end_incident(self, room: JanusRoom) -> None:
        buffer, room.incident = room.incident, None
        if room.receiver is not None:
            room.receiver.close()
            room.receiver = None
        if buffer is None:
            return
        sealed_as = buffer.incident_id
        buffer.close()
        if sealed_as is not None and self.incidents is not None:
            self.incidents.end(sealed_as)
