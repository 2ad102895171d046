"""S8's incident buffer: the last minutes of a room's audience mix, encrypted in memory.

The room's mixer hands over every Opus packet it sends the audience (the mix after the
policy: unmuted people on stage, nobody else), so the buffer costs no decoding or encoding
of its own. Packets are gathered into chunks of ``incident_chunk_seconds`` of audio time;
each finished chunk is encrypted with AES-GCM under the room's key, a random key that
exists only in this object (nonce: the chunk's index; associated data: the room and the
index, so no chunk can be moved to another place or room). Chunks older than
``incident_buffer_seconds`` are dropped. Alongside goes the timeline: who was on stage,
unmuted and speaking (from the mixer's levels), inside the same encrypted chunks.

``seal`` hands the buffered chunks, and every later one until the room's audio ends, to
the sealed store (``media/sealed.py``). Closing an unsealed buffer drops its chunks and its
key: nothing of the room's audio was ever anywhere else. See docs/safety.md.
"""

from __future__ import annotations

import json
import logging
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from townhall.media.codec import RATE

logger = logging.getLogger(__name__)

SPEAKING = 0.2
"""A level (0..1, see ``codec.level``) from which a person counts as speaking: -48 dBFS."""

_LENGTH = struct.Struct(">I")
_PACKET = struct.Struct(">IH")  # start (samples into the chunk), payload length


class RoomKey:
    """A room's audio key: 256 random bits, never written anywhere in clear."""

    __slots__ = ("__weakref__", "_aead", "_key", "room_id")

    def __init__(self, room_id: str, key: bytes | None = None) -> None:
        self.room_id = room_id
        self._key = key if key is not None else AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(self._key)

    @property
    def material(self) -> bytes:
        """The raw key, only for wrapping it when the room is sealed."""
        return self._key

    def encrypt(self, index: int, plain: bytes) -> bytes:
        return self._aead.encrypt(_nonce(index), plain, _bound(self.room_id, index))

    def decrypt(self, index: int, sealed: bytes) -> bytes:
        return self._aead.decrypt(_nonce(index), sealed, _bound(self.room_id, index))


def _nonce(index: int) -> bytes:
    # One key per room and each index encrypted once: a counter never repeats a nonce.
    return index.to_bytes(12, "big")


def _bound(room_id: str, index: int) -> bytes:
    return f"townhall-incident:{room_id}:{index}".encode()


@dataclass
class Chunk:
    """One stretch of audio time in clear, while it is being filled."""

    index: int
    start: int
    """Samples since the buffer began."""
    at: str
    """Wall-clock time (ISO) at its start."""
    stage: dict[str, bool]
    """username -> muted, for everyone on stage at its start."""
    packets: list[tuple[int, bytes]] = field(default_factory=list)
    changes: list[tuple[int, str, bool | None]] = field(default_factory=list)
    """(samples into the chunk, username, muted or None for off stage)."""
    speaking: list[tuple[int, str]] = field(default_factory=list)
    """(samples into the chunk, username) for each levels interval they spoke in."""

    def encode(self, samples: int, frame_ms: int, levels_ms: int) -> bytes:
        head = {
            "index": self.index,
            "start": self.start,
            "samples": samples,
            "at": self.at,
            "frame_ms": frame_ms,
            "levels_ms": levels_ms,
            "stage": self.stage,
            "changes": self.changes,
            "speaking": self.speaking,
        }
        text = json.dumps(head, separators=(",", ":")).encode()
        parts = [_LENGTH.pack(len(text)), text]
        for start, payload in self.packets:
            parts.append(_PACKET.pack(start, len(payload)))
            parts.append(payload)
        return b"".join(parts)


def decode_chunk(plain: bytes) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
    """A chunk's header and its (start, Opus packet) list, as ``Chunk.encode`` wrote them."""
    (length,) = _LENGTH.unpack_from(plain, 0)
    head = json.loads(plain[4 : 4 + length])
    packets: list[tuple[int, bytes]] = []
    at = 4 + length
    while at < len(plain):
        start, size = _PACKET.unpack_from(plain, at)
        at += _PACKET.size
        packets.append((start, plain[at : at + size]))
        at += size
    return head, packets


Sink = Callable[[int, bytes], None]
"""Where a sealed room's finished chunks go: (index, encrypted bytes)."""


class RoomBuffer:
    """The rolling, encrypted buffer of one live room's audience mix."""

    def __init__(
        self,
        room_id: str,
        keep_seconds: int,
        chunk_seconds: int,
        frame_ms: int,
        levels_ms: int,
        now: Callable[[], datetime],
    ) -> None:
        self.room_id = room_id
        self.key: RoomKey | None = RoomKey(room_id)
        self._keep = keep_seconds * RATE
        self._chunk_samples = chunk_seconds * RATE
        self._frame_ms = frame_ms
        self._levels_ms = levels_ms
        self._now = now
        self._position = 0
        self._stage: dict[str, bool] = {}
        self._chunks: deque[tuple[int, int, bytes]] = deque()
        """(index, start in samples, encrypted) for each finished chunk, oldest first."""
        self._current: Chunk | None = None
        self._next_index = 0
        self.sink: Sink | None = None
        """Set once sealed: every finished chunk goes there too."""
        self.incident_id: str | None = None

    # --- fed by the mixer, in its tick (never awaits) -------------------------------------

    def audio(self, payload: bytes | None, samples: int) -> None:
        """The audience's next ``samples`` of audio: one Opus packet, or None for held-back
        silence."""
        if self.key is None:
            return
        chunk = self._chunk()
        if payload is not None:
            chunk.packets.append((self._position - chunk.start, payload))
        self._position += samples
        if self._position - chunk.start >= self._chunk_samples:
            self._finish()

    def levels(self, heard: dict[str, float]) -> None:
        """The mixer's loudest level per person heard in the last levels interval."""
        if self.key is None:
            return
        chunk = self._chunk()
        # The interval just past: it may have begun in the previous chunk.
        offset = self._position - chunk.start - self._levels_ms * RATE // 1000
        for username, value in heard.items():
            if value >= SPEAKING:
                chunk.speaking.append((offset, username))

    def stage(self, stage: dict[str, bool]) -> None:
        """Who is on stage now (username -> muted), after any change the policy obeyed."""
        if self.key is None or stage == self._stage:
            return
        chunk = self._chunk()
        offset = self._position - chunk.start
        for username in sorted(set(self._stage) | set(stage)):
            muted = stage.get(username)
            if muted != self._stage.get(username):
                chunk.changes.append((offset, username, muted))
        self._stage = dict(stage)

    # --- sealing and the end -------------------------------------------------------------

    def seal(self, incident_id: str, sink: Sink) -> list[tuple[int, bytes]]:
        """From now on every finished chunk also goes to ``sink``; returns those already
        buffered, for the caller to write first."""
        self.incident_id = incident_id
        self.sink = sink
        return [(index, sealed) for index, _, sealed in self._chunks]

    def close(self) -> None:
        """The room's audio ended: a sealed buffer hands over its last chunk; then the
        chunks and the key go."""
        if self.key is None:
            return
        if self.sink is not None and self._current is not None:
            self._finish()
        self._chunks.clear()
        self._current = None
        self.key = None
        self.sink = None

    @property
    def closed(self) -> bool:
        return self.key is None

    @property
    def bytes_held(self) -> int:
        """Memory held for audio: the encrypted chunks and the packets of the open one."""
        held = sum(len(sealed) for _, _, sealed in self._chunks)
        if self._current is not None:
            held += sum(len(p) + _PACKET.size for _, p in self._current.packets)
        return held

    @property
    def seconds_held(self) -> float:
        first = self._chunks[0][1] if self._chunks else self._position
        return (self._position - first) / RATE

    def _chunk(self) -> Chunk:
        if self._current is None:
            self._current = Chunk(
                index=self._next_index,
                start=self._position,
                at=self._now().isoformat(),
                stage=dict(self._stage),
            )
            self._next_index += 1
        return self._current

    def _finish(self) -> None:
        chunk, self._current = self._current, None
        assert chunk is not None and self.key is not None
        samples = self._position - chunk.start
        sealed = self.key.encrypt(
            chunk.index, chunk.encode(samples, self._frame_ms, self._levels_ms)
        )
        self._chunks.append((chunk.index, chunk.start, sealed))
        # Keep at least the last ``keep`` seconds: the oldest goes once the next covers them.
        while len(self._chunks) > 1 and self._position - self._chunks[1][1] >= self._keep:
            self._chunks.popleft()
        if self.sink is not None:
            self.sink(chunk.index, sealed)
