"""One room's mix: every frame time, the voices that may be heard are summed and encoded
once for the audience and once per person on stage (without their own voice)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import numpy as np

from townhall.media.codec import FRAME_MS, FRAME_SAMPLES, Outgoing, clip, level
from townhall.media.incident import RoomBuffer
from townhall.media.native import Native
from townhall.media.policy import RoomPolicy
from townhall.media.session import Fanout, Session, send_one

logger = logging.getLogger(__name__)

LevelsSink = Callable[[dict[str, float]], None]


class RoomMix:
    def __init__(
        self,
        policy: RoomPolicy,
        bitrate: int,
        audience_frame_ms: int,
        levels_interval_ms: int,
        on_levels: LevelsSink,
        incident: RoomBuffer | None = None,
        native: Native | None = None,
    ) -> None:
        self.policy = policy
        self.sessions: dict[str, Session] = {}
        self._bitrate = bitrate
        self._audience = Outgoing(bitrate, audience_frame_ms)
        self._pending: list[np.ndarray] = []
        self._audience_outlets: Fanout | None = None
        self._stage: list[Session] | None = None
        """Those who may be heard or have a mix of their own: the few a tick looks at
        (only ``refresh`` makes someone one of them; losing it is checked each tick)."""
        self._native = native
        """The native fan-out loop, or None: the Python one."""
        self._levels_every = max(1, levels_interval_ms // FRAME_MS)
        self._levels: dict[str, float] = {}
        self._said_levels = False
        self._on_levels = on_levels
        self.incident = incident
        """The room's incident buffer: it keeps exactly the audience's packets."""
        self._ticks = 0
        self._task: asyncio.Task[None] | None = None
        self.fed = False
        """A fan-out shard of a room mixed on another worker: no mix here, the audience
        payloads arrive by ``feed``."""
        self.relay: Callable[[bytes, int], None] | None = None
        """Where each audience payload also goes: the room's shards on other workers."""
        self.stats = {"ticks": 0, "late_ticks": 0, "packets": 0}

    # --- membership ----------------------------------------------------------------------

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session
        self.refresh(session.username)
        if self._task is None and not self.fed:
            self._task = asyncio.create_task(self._run(), name="room-mix")

    def unfeed(self) -> None:
        """The room's mix is here from now on (its home moved here)."""
        self.fed = False
        self.refresh()
        if self._task is None and self.sessions:
            self._task = asyncio.create_task(self._run(), name="room-mix")

    def feed(self, payload: bytes, samples: int) -> None:
        """An audience payload the room's mixing worker sent: to every listener here."""
        if self.fed:
            self.stats["packets"] += self._listeners().send(payload, samples)

    def remove(self, session: Session) -> None:
        if self.sessions.pop(session.id, None) is not None:
            self._audience_outlets = None
            self._stage = None

    def refresh(self, username: str = "") -> None:
        """The policy changed for ``username`` (or for everyone): obey it now."""
        for s in self.sessions.values():
            if username and s.username != username:
                continue
            allowed = s.sends and self.policy.may_speak(s.username)
            if not allowed:
                s.stop_hearing()
            s.may_send = allowed
            # A shard sends only the audience mix: someone on stage who connected to receive
            # only hears that (it cannot hold their voice: this connection sends none).
            if self.policy.on_stage(s.username) and not self.fed:
                if s.encoder is None:
                    s.encoder = Outgoing(self._bitrate)
            else:
                s.encoder = None
        self._audience_outlets = None
        self._stage = None

    def ready(self) -> None:
        self._audience_outlets = None

    @property
    def empty(self) -> bool:
        return not self.sessions

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # --- the clock -----------------------------------------------------------------------

    async def _run(self) -> None:
        period = FRAME_MS / 1000
        due = time.monotonic()
        while True:
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # stalled: start again from now instead of catching up
                self.stats["late_ticks"] += 1
                due = time.monotonic()
            try:
                self.tick()
            except Exception:
                logger.exception("a room mix tick failed")

    def tick(self) -> None:
        """Mix one frame time: pull one frame per audible speaker, encode, send."""
        self.stats["ticks"] += 1
        voices: dict[str, np.ndarray] = {}
        stage = self._on_stage()
        for s in stage:
            if s.may_send and s.inbox:
                voices[s.username] = s.inbox.popleft()
        if voices:
            total = np.sum([v.astype(np.int32) for v in voices.values()], axis=0)
        else:
            total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
        self._measure(voices)

        for s in stage:
            if s.encoder is None or s.outlet is None:
                continue
            own = voices.get(s.username)
            mix = total - own if own is not None else total
            payload, samples = s.encoder.packet(clip(mix))
            if payload is not None:
                self.stats["packets"] += send_one(s.outlet, self._native, payload, samples)

        self._pending.append(clip(total))
        if len(self._pending) * FRAME_SAMPLES >= self._audience.samples:
            pcm = np.concatenate(self._pending)
            self._pending.clear()
            payload, samples = self._audience.packet(pcm)
            if payload is not None:
                self.stats["packets"] += self._listeners().send(payload, samples)
                if self.relay is not None:
                    self.relay(payload, samples)
            if self.incident is not None:
                self.incident.audio(payload, len(pcm))

    def _on_stage(self) -> list[Session]:
        if self._stage is None:
            self._stage = [s for s in self.sessions.values() if s.may_send or s.encoder is not None]
        return self._stage

    def _listeners(self) -> Fanout:
        if self._audience_outlets is None:
            outlets = [
                s.outlet
                for s in self.sessions.values()
                if s.outlet is not None and s.encoder is None
            ]
            self._audience_outlets = Fanout(outlets, self._native)
        return self._audience_outlets

    def _measure(self, voices: dict[str, np.ndarray]) -> None:
        for username, pcm in voices.items():
            self._levels[username] = max(self._levels.get(username, 0.0), level(pcm))
        self._ticks += 1
        if self._ticks % self._levels_every:
            return
        heard = {u: round(v, 2) for u, v in self._levels.items() if v > 0.0}
        self._levels.clear()
        if self.incident is not None:
            self.incident.levels(heard)
        if heard or self._said_levels:
            self._said_levels = bool(heard)
            self._on_levels(heard)
