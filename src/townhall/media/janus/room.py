"""One live room on Janus: its AudioBridge room, its mountpoints, its people's handles.

The AudioBridge room lives on one instance (the room's *home*) and mixes the people who
send; each of them hears the mix without their own voice (AudioBridge's mix-minus). The
audience hears the same mix through Streaming mountpoints, one per instance and payload
type, each fed by an RTP forwarder of the AudioBridge room (SRTP, under a key made for the
room). Another forwarder brings the mix to this process for the incident buffer.

Who is heard follows the room's policy: everyone who sends joins muted unless the policy
lets them speak, and every change is sent to Janus as AudioBridge ``mute``/``unmute`` in
the order the policy made them, by one worker per room (``obey``). A listener has no
AudioBridge participant at all, so nothing of theirs can reach the mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from townhall.config import Settings
from townhall.media.incident import RoomBuffer
from townhall.media.janus import forward, sdp
from townhall.media.janus.api import JanusError, Lost
from townhall.media.janus.instance import AUDIOBRIDGE, STREAMING, Instance
from townhall.media.policy import RoomPolicy

logger = logging.getLogger(__name__)

SPEAKING_LEVEL = 0.6
"""The level an ``audio.levels`` message gives someone AudioBridge says is talking: its
talking threshold (an average of -25 dBov over ``media_levels_interval_ms``) on the
embedded mixer's scale (``codec.level``: -60 dBFS is 0, full scale 1)."""

TALKING_DBOV = 25
"""AudioBridge's ``audio_level_average``: louder than -25 dBov on average is talking."""


def new_id() -> int:
    # Janus ids are JSON integers: keep them within what every JSON reader holds exactly.
    return secrets.randbelow(2**52 - 1) + 1


@dataclass(eq=False)
class Link:
    """One person's PeerConnection, which is one plugin handle on one instance."""

    id: str
    room_id: str
    user_id: int
    username: str
    auth_session: int | None
    instance: Instance
    handle: int
    sends: bool
    """In the AudioBridge room (an offer to send); otherwise a mountpoint's viewer."""
    participant: int = 0
    up: bool = False
    """Janus said its WebRTC is up."""
    closed: bool = False


@dataclass(eq=False)
class Mountpoint:
    instance: Instance
    id: int
    pt: int
    port: int
    forwarder: int = 0
    """The AudioBridge forwarder feeding it (a stream id on the home instance)."""


@dataclass(eq=False)
class JanusRoom:
    room_id: str
    policy: RoomPolicy
    settings: Settings
    admin_key: str | None
    publish_levels: Callable[[dict[str, float]], None]
    handler: Callable[[str, str], None] = lambda channel, payload: None
    home: Instance | None = None
    bridge: int = 0
    """The AudioBridge room's id on the home instance."""
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    key: bytes = field(default_factory=forward.new_key)
    links: dict[str, Link] = field(default_factory=dict)
    mountpoints: dict[tuple[str, int], Mountpoint] = field(default_factory=dict)
    participants: dict[int, str] = field(default_factory=dict)
    """AudioBridge participant id -> username."""
    talking: set[str] = field(default_factory=set)
    incident: RoomBuffer | None = None
    receiver: forward.MixReceiver | None = None
    receiver_port: int = 0
    pending: int = 0
    """Connections being negotiated: the room does not close under them."""
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _orders: asyncio.Queue[Callable[[], Awaitable[None]]] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._obey(), name="janus-room-orders"))
        self._tasks.append(asyncio.create_task(self._levels(), name="janus-room-levels"))

    async def stop(self) -> None:
        self.closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.receiver is not None:
            self.receiver.close()

    @property
    def empty(self) -> bool:
        return not self.links and not self.pending

    def _key(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.admin_key:
            body["admin_key"] = self.admin_key
        return body

    # --- the mix ---------------------------------------------------------------------------

    async def ensure_bridge(self, choose: Callable[[], Instance]) -> Instance:
        """The AudioBridge room, on a live instance (made there, with every forwarder, when
        the room has none: at its start, or after its home died)."""
        async with self.lock:
            if self.home is not None and self.home.up:
                return self.home
            home = choose()
            bridge = new_id()
            settings = self.settings
            await home.api.message(
                home.bridge,
                self._key(
                    {
                        "request": "create",
                        "room": bridge,
                        "secret": self.secret,
                        "description": f"townhall {self.room_id}",
                        "is_private": True,
                        "permanent": False,
                        "sampling_rate": 48000,
                        "audiolevel_ext": True,
                        "audiolevel_event": True,
                        "audio_active_packets": max(1, settings.media_levels_interval_ms // 20),
                        "audio_level_average": TALKING_DBOV,
                        "default_prebuffering": settings.media_input_frames,
                        "default_expectedloss": 5,
                        "default_bitrate": settings.media_bitrate,
                    }
                ),
            )
            self.home, self.bridge = home, bridge
            self.participants.clear()
            self.talking.clear()
            for mountpoint in list(self.mountpoints.values()):
                if mountpoint.instance.up:
                    mountpoint.forwarder = await self._forward(
                        mountpoint.instance.forward_address, mountpoint.port, mountpoint.pt
                    )
                else:
                    self.mountpoints.pop((mountpoint.instance.name, mountpoint.pt), None)
            if self.receiver is not None and self.settings.media_janus_forward_address:
                await self._forward(
                    self.settings.media_janus_forward_address, self.receiver_port, 111, True
                )
            return home

    async def _forward(self, host: str, port: int, pt: int, always: bool = False) -> int:
        assert self.home is not None
        data, _ = await self.home.api.message(
            self.home.bridge,
            self._key(
                {
                    "request": "rtp_forward",
                    "room": self.bridge,
                    "secret": self.secret,
                    "host": host,
                    "port": port,
                    "ptype": pt,
                    "codec": "opus",
                    "srtp_suite": 80,
                    "srtp_crypto": forward.sdes(self.key),
                    # The incident buffer keeps the room's time, silence included.
                    "always_on": always,
                }
            ),
        )
        return int(data["stream_id"])

    async def ensure_mountpoint(
        self, instance: Instance, pt: int, choose: Callable[[], Instance]
    ) -> Mountpoint:
        """The room's mountpoint on ``instance`` for payload type ``pt``, fed by the mix."""
        await self.ensure_bridge(choose)
        async with self.lock:
            found = self.mountpoints.get((instance.name, pt))
            if found is not None:
                return found
            mountpoint_id = new_id()
            data, _ = await instance.api.message(
                instance.streaming,
                self._key(
                    {
                        "request": "create",
                        "type": "rtp",
                        "id": mountpoint_id,
                        "description": f"townhall {self.room_id}",
                        "secret": self.secret,
                        "is_private": True,
                        "permanent": False,
                        "media": [
                            {"type": "audio", "mid": "a", "port": 0, "pt": pt, "codec": "opus"}
                        ],
                        "srtpsuite": 80,
                        "srtpcrypto": forward.sdes(self.key),
                    }
                ),
            )
            port = int(data["stream"]["ports"][0]["port"])
            mountpoint = Mountpoint(instance, mountpoint_id, pt, port)
            mountpoint.forwarder = await self._forward(instance.forward_address, port, pt)
            self.mountpoints[(instance.name, pt)] = mountpoint
            return mountpoint

    def lose(self, instance: Instance) -> None:
        """``instance`` died: forget what was on it (its forwarders stop at the next
        rehoming or when the room closes)."""
        for key, mountpoint in list(self.mountpoints.items()):
            if mountpoint.instance is instance:
                del self.mountpoints[key]
                if self.home is not None and self.home is not instance:
                    self.order(functools.partial(self._unforward, mountpoint.forwarder))
        if self.home is instance:
            self.home = None
            self.participants.clear()
            self.talking.clear()

    async def _unforward(self, stream: int) -> None:
        home = self.home
        if home is None or not home.up:
            return
        await home.api.message(
            home.bridge,
            self._key(
                {
                    "request": "stop_rtp_forward",
                    "room": self.bridge,
                    "secret": self.secret,
                    "stream_id": stream,
                }
            ),
        )

    # --- people ---------------------------------------------------------------------------

    async def join(self, link: Link, offer: str) -> str:
        """Put ``link`` in the AudioBridge room, muted unless the policy lets them speak;
        Janus's answer."""
        assert self.home is link.instance
        link.participant = new_id()
        self.participants[link.participant] = link.username
        data, jsep = await link.instance.api.message(
            link.handle,
            {
                "request": "join",
                "room": self.bridge,
                "id": link.participant,
                "display": link.username,
                "muted": not self.policy.may_speak(link.username),
            },
            {"type": "offer", "sdp": offer},
        )
        if jsep is None or data.get("audiobridge") != "joined":
            raise JanusError(0, f"AudioBridge did not answer the join: {data}")
        # A change of the policy while joining: obey it now, in order with the others.
        self.heed(link.username)
        return str(jsep["sdp"])

    async def watch(self, link: Link, offer: sdp.Description, mountpoint: Mountpoint) -> str:
        """Make ``link`` a viewer of ``mountpoint``; the client's answer (see ``sdp``)."""
        data, jsep = await link.instance.api.message(
            link.handle, {"request": "watch", "id": mountpoint.id}
        )
        if jsep is None:
            raise JanusError(0, f"Streaming did not offer: {data}")
        theirs = sdp.parse(str(jsep["sdp"]))
        await link.instance.api.message(
            link.handle,
            {"request": "start"},
            {"type": "answer", "sdp": sdp.answer_for_janus(theirs, offer)},
        )
        link.participant = 0
        return sdp.answer_for_client(offer, theirs)

    def heed(self, username: str) -> None:
        """Bring Janus in line with the policy for ``username``'s participants (in order)."""
        self.order(lambda: self._mute(username))

    def silence(self, link: Link) -> None:
        """Stop ``link`` being heard (before it is closed)."""
        participant = link.participant
        if link.sends and participant:
            self.order(lambda: self._set_muted(participant, True))

    async def _mute(self, username: str) -> None:
        muted = not self.policy.may_speak(username)
        for link in list(self.links.values()):
            if link.sends and link.username == username and link.participant and not link.closed:
                await self._set_muted(link.participant, muted)

    async def _set_muted(self, participant: int, muted: bool) -> None:
        home = self.home
        if home is None or not home.up:
            return
        await home.api.message(
            home.bridge,
            {
                "request": "mute" if muted else "unmute",
                "room": self.bridge,
                "secret": self.secret,
                "id": participant,
            },
        )

    def order(self, work: Callable[[], Awaitable[None]]) -> None:
        self._orders.put_nowait(work)

    async def _obey(self) -> None:
        while True:
            work = await self._orders.get()
            try:
                await work()
            except Lost:
                pass  # the instance went: its own handling moves the room
            except JanusError as exc:
                # Most often someone who left meanwhile: AudioBridge no longer knows them.
                logger.info("janus: room %s: %s", self.room_id, exc)

    # --- who is speaking -------------------------------------------------------------------

    def talk(self, participant: int, talking: bool) -> None:
        username = self.participants.get(participant)
        if username is None:
            return
        if talking:
            self.talking.add(username)
        else:
            self.talking.discard(username)

    async def _levels(self) -> None:
        said = False
        every = self.settings.media_levels_interval_ms / 1000
        while True:
            await asyncio.sleep(every)
            heard = {u: SPEAKING_LEVEL for u in sorted(self.talking) if self.policy.may_speak(u)}
            if self.incident is not None:
                self.incident.levels(heard)
            if heard or said:
                said = bool(heard)
                self.publish_levels(heard)

    # --- the end ---------------------------------------------------------------------------

    async def destroy(self) -> None:
        """Remove the AudioBridge room and the mountpoints from Janus (what is reachable)."""
        for mountpoint in self.mountpoints.values():
            with contextlib.suppress(JanusError):
                await mountpoint.instance.api.message(
                    mountpoint.instance.streaming,
                    self._key({"request": "destroy", "id": mountpoint.id, "secret": self.secret}),
                )
        self.mountpoints.clear()
        home, self.home = self.home, None
        if home is not None:
            with contextlib.suppress(JanusError):
                await home.api.message(
                    home.bridge, {"request": "destroy", "room": self.bridge, "secret": self.secret}
                )


__all__ = ["AUDIOBRIDGE", "STREAMING", "JanusRoom", "Link", "Mountpoint"]
