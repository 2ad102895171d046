"""A room's audio from Python: speak from a tone or a WAV file, listen and keep what you hear.

    async with Townhall(url, token) as th:
        await th.join(room_id)
        audio = await RoomAudio.open(th.signalling(room_id), source=ToneSource(440))
        ...
        await audio.close()

What a listener hears is decoded as each packet arrives (no jitter buffer: this is for
bots, tests and load tools on good networks) and kept in ``audio.heard`` with arrival
times. A connection that fails is replaced by a new one automatically (``reconnects``).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from townhall.media import ice, rtp, shim
from townhall.media.codec import FRAME_SAMPLES, RATE, Decoder

logger = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_SAMPLES / RATE


class Signalling(Protocol):
    async def offer(self, sdp: str) -> dict[str, Any]: ...
    async def hang_up(self, session: str) -> None: ...


@dataclass
class HttpSignalling:
    """Offer/answer through the HTTP API; ``post``/``delete`` return the decoded body."""

    room_id: str
    post: Callable[[str, dict[str, Any]], Awaitable[Any]]
    delete: Callable[[str], Awaitable[Any]]

    async def offer(self, sdp: str) -> dict[str, Any]:
        body = await self.post(f"/api/rooms/{self.room_id}/media", {"type": "offer", "sdp": sdp})
        return dict(body)

    async def hang_up(self, session: str) -> None:
        await self.delete(f"/api/rooms/{self.room_id}/media/{session}")


class _PacedSource(MediaStreamTrack):
    """20 ms mono frames at real-time pace from ``samples(start)``; ``on_frame`` is told when
    each frame is handed over (for latency measurements)."""

    kind = "audio"

    def __init__(self, samples: Callable[[int], np.ndarray]) -> None:
        super().__init__()
        self._samples = samples
        self._start: float | None = None
        self._pts = 0
        self.on_frame: Callable[[int, float], None] | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pcm = self._samples(self._pts)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        if self.on_frame is not None:
            self.on_frame(self._pts, time.monotonic())
        self._pts += FRAME_SAMPLES
        return frame


class ToneSource(_PacedSource):
    """A sine tone; ``amplitude`` is a fraction of full scale."""

    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        super().__init__(self.samples)
        self.frequency = frequency
        self.amplitude = amplitude

    def samples(self, start: int) -> np.ndarray:
        t = (np.arange(FRAME_SAMPLES) + start) / RATE
        return (np.sin(2 * np.pi * self.frequency * t) * self.amplitude * 32767).astype(np.int16)


class PcmSource(_PacedSource):
    """Plays 48 kHz mono int16 samples, then silence (or again, with ``loop``)."""

    def __init__(self, pcm: np.ndarray, loop: bool = False) -> None:
        super().__init__(self.samples)
        self.pcm = pcm.astype(np.int16)
        self.loop = loop

    @classmethod
    def from_wav(cls, path: str | Path, loop: bool = False) -> PcmSource:
        """A WAV file of any rate and channel count, converted to 48 kHz mono."""
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(audio=0)
                for out in resampler.resample(frame)
            ]
        return cls(np.concatenate(chunks) if chunks else np.zeros(0, np.int16), loop)

    @property
    def position(self) -> int:
        """Samples played so far."""
        return self._pts

    def samples(self, start: int) -> np.ndarray:
        n = len(self.pcm)
        if n and self.loop:
            idx = (np.arange(FRAME_SAMPLES) + start) % n
            return self.pcm[idx]
        out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        if start < n:
            chunk = self.pcm[start : start + FRAME_SAMPLES]
            out[: len(chunk)] = chunk
        return out


@dataclass
class Heard:
    """What a connection received: (arrival time by time.monotonic(), 20 ms of PCM)."""

    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def pcm(self, since: float = 0.0, until: float = float("inf")) -> np.ndarray:
        chosen = [p for t, p in self.frames if since <= t < until]
        return np.concatenate(chosen) if chosen else np.zeros(0, np.int16)

    def write_wav(self, path: str | Path) -> None:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(self.pcm().tobytes())


class RoomAudio:
    """One audio connection to a room: sending ``source`` (if any), hearing the mix."""

    def __init__(
        self,
        signalling: Signalling,
        source: MediaStreamTrack | None,
        bind: ice.Binding,
        reconnect: bool,
    ) -> None:
        self._signalling = signalling
        self.source = source
        self._bind = bind
        self._auto = reconnect
        self.heard = Heard()
        self.session: str | None = None
        self.reconnects = 0
        self._pc: RTCPeerConnection | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Future[None]] = set()

    @classmethod
    async def open(
        cls,
        signalling: Signalling,
        *,
        source: MediaStreamTrack | None = None,
        bind_addresses: tuple[str, ...] = (),
        reconnect: bool = True,
        wait: float = 10.0,
    ) -> RoomAudio:
        """Connect and wait until audio flows (``TimeoutError`` after ``wait`` seconds)."""
        audio = cls(signalling, source, ice.Binding(addresses=bind_addresses), reconnect)
        await audio._connect()
        await audio.wait_connected(wait)
        return audio

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, seconds: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), seconds)

    async def reconnect(self) -> None:
        """A new connection in place of the current one (as after a network change)."""
        self.reconnects += 1
        await self._connect()

    def handle(self, message: dict[str, Any]) -> bool:
        """Act on a message of the room's live stream (``Live.events()``): at
        ``audio.reconnect`` (the room's audio moved to another media worker) a new
        connection is made at once (when it names connections, only if this is one of
        them). True when the message was for the audio."""
        if message.get("name") != "audio.reconnect" or self._closed:
            return False
        sessions = (message.get("data") or {}).get("sessions")
        if sessions is not None and self.session not in sessions:
            return True  # other people's connections: this one's worker is fine
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(self._retry())
        return True

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._pc is not None:
            await self._pc.close()
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self.session is not None:
            try:
                await self._signalling.hang_up(self.session)
            except Exception:  # already gone with the room: nothing to hang up
                pass

    async def _connect(self) -> None:
        old = self._pc
        self._connected.clear()
        pc = RTCPeerConnection()
        if self.source is not None:
            pc.addTrack(self.source)
        else:
            pc.addTransceiver("audio", direction="recvonly")
        ice.bind(pc, self._bind)
        self._hear(pc)
        await pc.setLocalDescription(await pc.createOffer())
        try:
            answer = await self._signalling.offer(pc.localDescription.sdp)
        except BaseException:
            await pc.close()
            raise
        self._pc = pc
        self.session = answer["session"]

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc is not self._pc:
                return
            if pc.connectionState == "connected":
                self._connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self._connected.clear()
                if not self._auto or self._closed:
                    return
                if self._reconnecting is None or self._reconnecting.done():
                    self._reconnecting = asyncio.create_task(self._retry())

        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        if old is not None:
            # Not awaited: closing a connection whose server is gone can take a while.
            self._closing.add(asyncio.ensure_future(old.close()))
            self._closing = {t for t in self._closing if not t.done()}

    async def _retry(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                await self.reconnect()
                return
            except Exception:
                logger.info("audio reconnection failed; trying again in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _hear(self, pc: RTCPeerConnection) -> None:
        decoder = Decoder()
        last: list[int] = []
        frames = self.heard.frames
        dtls = pc.getTransceivers()[0].receiver.transport

        async def on_rtp(data: bytes, arrival_time_ms: int = 0) -> None:
            packet = rtp.parse(data)
            if packet is None:
                return
            if last and not rtp.newer(packet.sequence, last[0]):
                return
            last[:] = [packet.sequence]
            pcm = decoder.decode(packet.payload)
            if pcm is None:
                return
            now = time.monotonic()
            count = len(pcm) // FRAME_SAMPLES
            for i in range(count):
                # Frames of one packet arrive together: the first can play now, the next after it.
                at = now + i * FRAME_SECONDS
                frames.append((at, pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]))

        shim.on_rtp(dtls, on_rtp)
