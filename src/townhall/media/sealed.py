"""Sealed incident audio on disk: encrypted chunks, the wrapped room key, export, retention.

One directory per incident under ``<data_dir>/incidents/``:

    meta.json       room, sealed_at, ended_at (no audio, no names)
    key             the room's key, wrapped: AES-GCM under a key derived (HKDF-SHA256, a
                    random salt per incident) from the instance secret
    000000.chunk    each chunk exactly as the buffer encrypted it (``media/incident.py``)

Deleting the directory destroys the audio and its key together. A later report on a room
already sealed gets a directory holding only ``meta.json`` with ``same_as``: the same
recording, its own retention clock. Writes go through one thread, in order, so the mixer
never waits on the disk. Export decrypts and muxes into Ogg Opus in memory: no audio in
clear ever reaches a file.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from townhall.clock import Clock
from townhall.files import private_dir
from townhall.media.codec import RATE, Encoder
from townhall.media.incident import RoomKey, decode_chunk

logger = logging.getLogger(__name__)

INCIDENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHUNK = re.compile(r"^(\d{6,})\.chunk$")
_WRAP_INFO = b"townhall incident audio key wrap"


@dataclass(frozen=True)
class IncidentAudio:
    """An incident's audio as staff receive it."""

    ogg: bytes
    timeline: dict[str, Any]


class SealedStore:
    def __init__(self, root: Path, secret: bytes, clock: Clock, retention_days: int) -> None:
        self.root = root
        self._secret = secret
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-writer")

    # --- writing (in order, off the event loop) ------------------------------------------

    def begin(self, incident_id: str, key: RoomKey, same_as: str | None = None) -> None:
        """Start an incident: its key wrapped, or (``same_as``) a pointer to an earlier one."""
        check_id(incident_id)
        meta: dict[str, Any] = {
            "room": key.room_id,
            "sealed_at": self._clock.now().isoformat(),
            "ended_at": None,
        }
        wrapped = None
        if same_as is not None:
            meta["same_as"] = same_as
        else:
            wrapped = self._wrap(incident_id, key)
        self._submit(self._begin, incident_id, meta, wrapped)

    def write(self, incident_id: str, index: int, sealed: bytes) -> None:
        self._submit(self._write, incident_id, index, sealed)

    def end(self, incident_id: str) -> None:
        self._submit(self._end, incident_id, self._clock.now().isoformat())

    async def flushed(self) -> None:
        """Return once every write handed over so far is on disk."""
        await asyncio.wrap_future(self._writer.submit(lambda: None))

    async def export(self, incident_id: str) -> IncidentAudio | None:
        """The incident's audio as an Ogg Opus file and its timeline; None if there is none
        (never sealed, or destroyed)."""
        return await asyncio.to_thread(self._export, incident_id)

    async def sweep(self) -> list[str]:
        """Destroy every incident sealed longer ago than the retention, key first; the ids
        destroyed. Runs in the writer's thread, so no write is in flight meanwhile."""
        return await asyncio.wrap_future(self._writer.submit(self._sweep))

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.shutdown, True)

    def _submit(self, work: Any, *args: Any) -> None:
        self._writer.submit(self._logged, work, *args)

    @staticmethod
    def _logged(work: Any, *args: Any) -> None:
        try:
            work(*args)
        except Exception:
            logger.exception("incident audio: a write failed")

    def _begin(self, incident_id: str, meta: dict[str, Any], wrapped: bytes | None) -> None:
        private_dir(self.root)
        folder = self.root / incident_id
        if folder.exists():
            return
        folder.mkdir(mode=0o700)
        if wrapped is not None:
            _write_private(folder / "key", wrapped)
        _write_private(folder / "meta.json", json.dumps(meta).encode())

    def _write(self, incident_id: str, index: int, sealed: bytes) -> None:
        folder = self.root / incident_id
        if folder.is_dir():  # gone when retention ran first
            _write_private(folder / f"{index:06d}.chunk", sealed)

    def _end(self, incident_id: str, at: str) -> None:
        meta = self._meta(incident_id)
        if meta is not None:
            meta["ended_at"] = at
            _write_private(self.root / incident_id / "meta.json", json.dumps(meta).encode())

    # --- keys ----------------------------------------------------------------------------

    def _kek(self, salt: bytes) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_WRAP_INFO)
        return AESGCM(hkdf.derive(self._secret))

    def _wrap(self, incident_id: str, key: RoomKey) -> bytes:
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        bound = f"townhall-incident-key:{incident_id}:{key.room_id}".encode()
        return salt + nonce + self._kek(salt).encrypt(nonce, key.material, bound)

    def _unwrap(self, incident_id: str, room_id: str, wrapped: bytes) -> RoomKey:
        salt, nonce, body = wrapped[:16], wrapped[16:28], wrapped[28:]
        bound = f"townhall-incident-key:{incident_id}:{room_id}".encode()
        return RoomKey(room_id, self._kek(salt).decrypt(nonce, body, bound))

    # --- reading ---------------------------------------------------------------------------

    def _meta(self, incident_id: str) -> dict[str, Any] | None:
        if not INCIDENT_ID.match(incident_id):
            return None
        try:
            meta: dict[str, Any] = json.loads((self.root / incident_id / "meta.json").read_bytes())
        except (OSError, ValueError):
            return None
        return meta

    def exists(self, incident_id: str) -> bool:
        return self._recording(incident_id) is not None

    def _recording(self, incident_id: str) -> tuple[str, dict[str, Any]] | None:
        meta = self._meta(incident_id)
        if meta is not None and "same_as" in meta:
            incident_id = str(meta["same_as"])
            meta = self._meta(incident_id)
        if meta is None or "same_as" in meta or not (self.root / incident_id / "key").is_file():
            return None
        return incident_id, meta

    async def timeline(self, incident_id: str) -> dict[str, Any] | None:
        """The incident's timeline alone (the audio is decrypted and checked, not muxed)."""
        found = await asyncio.to_thread(self._export, incident_id, False)
        return found.timeline if found is not None else None

    def _export(self, incident_id: str, mux: bool = True) -> IncidentAudio | None:
        found = self._recording(incident_id)
        if found is None:
            return None
        recording, meta = found
        folder = self.root / recording
        try:
            key = self._unwrap(recording, meta["room"], (folder / "key").read_bytes())
            chunks = []
            for path in sorted(folder.iterdir()):
                match = _CHUNK.match(path.name)
                if match:
                    plain = key.decrypt(int(match.group(1)), path.read_bytes())
                    chunks.append(decode_chunk(plain))
        except (OSError, InvalidTag, ValueError):
            logger.exception("incident audio %s could not be read", recording)
            return None
        chunks.sort(key=lambda c: int(c[0]["start"]))
        timeline = build_timeline(chunks)
        timeline["room"] = meta["room"]
        timeline["sealed_at"] = meta["sealed_at"]
        timeline["ended_at"] = meta["ended_at"]
        return IncidentAudio(ogg=mux_ogg(chunks) if mux else b"", timeline=timeline)

    # --- retention -------------------------------------------------------------------------

    def _sweep(self) -> list[str]:
        if not self.root.is_dir():
            return []
        cutoff = self._clock.now() - self._retention
        gone = []
        for folder in sorted(self.root.iterdir()):
            meta = self._meta(folder.name)
            sealed_at = meta and datetime.fromisoformat(meta["sealed_at"])
            if meta is not None and sealed_at and sealed_at > cutoff:
                continue
            if not folder.is_dir():
                continue
            key = folder / "key"
            if key.is_file():
                # Best effort over the old bytes; the unlink is what counts.
                key.write_bytes(b"\0" * key.stat().st_size)
                key.unlink()
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder.name)
        if gone:
            logger.info("incident audio destroyed after retention: %s", ", ".join(gone))
        return gone

    def incidents(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []


def check_id(incident_id: str) -> None:
    if not INCIDENT_ID.match(incident_id):
        raise ValueError(f"incident id {incident_id!r} is not 1-64 of A-Z a-z 0-9 _ -")


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


# --- export ----------------------------------------------------------------------------------


def mux_ogg(chunks: list[tuple[dict[str, Any], list[tuple[int, bytes]]]]) -> bytes:
    """The chunks' Opus packets in an Ogg Opus file, in memory. Held-back silence between
    packets is filled with silent packets, so time in the file is the room's time."""
    frame_ms = int(chunks[0][0]["frame_ms"]) if chunks else 20
    step = RATE * frame_ms // 1000
    silence = _silent_packet(frame_ms)
    origin = int(chunks[0][0]["start"]) if chunks else 0
    out_buffer = io.BytesIO()
    with av.open(out_buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=RATE)
        stream.codec_context.layout = "mono"
        stream.codec_context.format = "s16"
        stream.codec_context.open()  # writes the OpusHead the Ogg muxer needs
        base = Fraction(1, RATE)
        position = 0

        def put(payload: bytes, pts: int) -> None:
            packet = av.Packet(payload)
            packet.pts = packet.dts = pts
            packet.duration = step
            packet.time_base = base
            packet.stream = stream
            out.mux(packet)

        for head, packets in chunks:
            start = int(head["start"]) - origin
            for offset, payload in packets:
                at = start + offset
                while position + step <= at:
                    put(silence, position)
                    position += step
                put(payload, at)
                position = at + step
            end = start + int(head["samples"])
            while position + step <= end:
                put(silence, position)
                position += step
    return out_buffer.getvalue()


def _silent_packet(frame_ms: int) -> bytes:
    encoder = Encoder(16000, frame_ms)
    zeros = np.zeros(encoder.samples, dtype=np.int16)
    packet = None
    for _ in range(3):
        packet = encoder.encode(zeros) or packet
    assert packet is not None
    return packet


def build_timeline(
    chunks: list[tuple[dict[str, Any], list[tuple[int, bytes]]]],
) -> dict[str, Any]:
    """Who was on stage, unmuted and speaking, as intervals in seconds from the start of
    the audio: ``{"started_at", "seconds", "stage", "unmuted", "speaking"}``."""
    if not chunks:
        return {"started_at": None, "seconds": 0.0, "stage": [], "unmuted": [], "speaking": []}
    origin = int(chunks[0][0]["start"])
    levels = int(chunks[0][0]["levels_ms"]) * RATE // 1000
    stage_from: dict[str, int] = {}
    unmuted_from: dict[str, int] = {}
    spans: dict[str, list[dict[str, Any]]] = {"stage": [], "unmuted": [], "speaking": []}
    talking: dict[str, list[int]] = {}

    def close(kind: str, opened: dict[str, int], username: str, at: int) -> None:
        start = opened.pop(username, None)
        if start is not None and at > start:
            spans[kind].append({"username": username, "from": start, "to": at})

    for username, muted in chunks[0][0]["stage"].items():
        stage_from[username] = 0
        if not muted:
            unmuted_from[username] = 0
    end = 0
    for head, _ in chunks:
        start = int(head["start"]) - origin
        for offset, username, muted in head["changes"]:
            at = start + int(offset)
            if muted is None:
                close("stage", stage_from, username, at)
                close("unmuted", unmuted_from, username, at)
                continue
            stage_from.setdefault(username, at)
            if muted:
                close("unmuted", unmuted_from, username, at)
            else:
                unmuted_from.setdefault(username, at)
        for offset, username in head["speaking"]:
            at = max(0, start + int(offset))
            span = talking.get(username)
            if span is not None and at <= span[1]:
                span[1] = at + levels
            else:
                if span is not None:
                    spans["speaking"].append({"username": username, "from": span[0], "to": span[1]})
                talking[username] = [at, at + levels]
        end = start + int(head["samples"])
    for username in list(stage_from):
        close("stage", stage_from, username, end)
    for username in list(unmuted_from):
        close("unmuted", unmuted_from, username, end)
    for username, (a, b) in talking.items():
        spans["speaking"].append({"username": username, "from": a, "to": min(b, end)})
    result: dict[str, Any] = {"started_at": chunks[0][0]["at"], "seconds": round(end / RATE, 2)}
    for kind, found in spans.items():
        found.sort(key=lambda s: (s["from"], s["username"]))
        result[kind] = [
            {
                "username": s["username"],
                "from": round(s["from"] / RATE, 2),
                "to": round(s["to"] / RATE, 2),
            }
            for s in found
        ]
    return result
