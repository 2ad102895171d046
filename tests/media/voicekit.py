"""Helpers for audio tests: connect people's audio over HTTP and look for tones by FFT."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import numpy as np
from aiortc import MediaStreamTrack

from tests.waiting import PATIENCE, until
from townhall.client.voice import HttpSignalling, RoomAudio
from townhall.media.codec import RATE

F = TypeVar("F", bound=Callable[..., Any])

LOOPBACK = ("127.0.0.1",)
MEDIA_SETTINGS = {"media_bind_addresses": ["127.0.0.1"]}

_client_addresses: list[tuple[str, ...]] = [LOOPBACK]


def client_addresses() -> tuple[str, ...]:
    """Where the test's Python clients bind: loopback, or this side of Janus's network."""
    return _client_addresses[-1]


def planes(*names: str) -> Callable[[F], F]:
    """Run a test that uses ``media_plane`` on these media planes only (tests/media/conftest.py)."""

    def mark(test: F) -> F:
        test.media_planes = names  # type: ignore[attr-defined]
        return test

    return mark


@contextmanager
def binding(addresses: tuple[str, ...]) -> Iterator[None]:
    """Clients bind to ``addresses`` for the block (a media plane that is not on loopback)."""
    _client_addresses.append(addresses)
    try:
        yield
    finally:
        _client_addresses.remove(addresses)


def signalling(client: httpx.AsyncClient, room_id: str) -> HttpSignalling:
    async def post(path: str, body: dict[str, Any]) -> Any:
        r = await client.post(path, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def delete(path: str) -> Any:
        return (await client.delete(path)).json()

    return HttpSignalling(room_id, post, delete)


async def connect(
    client: httpx.AsyncClient, room_id: str, source: MediaStreamTrack | None = None
) -> RoomAudio:
    return await RoomAudio.open(
        signalling(client, room_id),
        source=source,
        bind_addresses=client_addresses(),
        wait=PATIENCE,
    )


def recent(audio: RoomAudio, seconds: float = 0.8, since: float = 0.0) -> np.ndarray:
    """The last ``seconds`` of what ``audio`` heard (only what arrived after ``since``)."""
    frames = audio.heard.frames
    if not frames:
        return np.zeros(0, np.int16)
    return audio.heard.pcm(since=max(since, frames[-1][0] - seconds))


async def frames_after(audio: RoomAudio, since: float, count: int) -> list[np.ndarray]:
    """The first ``count`` frames ``audio`` hears after ``since`` (monotonic clock), once
    they have arrived: a stretch measured in audio, however slowly the machine runs."""

    def arrived() -> list[np.ndarray] | None:
        after = [pcm for t, pcm in audio.heard.frames if t >= since]
        return after[:count] if len(after) >= count else None

    found = await until(arrived, f"{count} frames of audio")
    return found


def band_share(pcm: np.ndarray, frequency: float, width: float = 15.0) -> float:
    """The share of the signal's power within ``width`` Hz of ``frequency`` (0..1)."""
    if len(pcm) < RATE // 10:
        return 0.0
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm)))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    total = spectrum.sum()
    if total <= 0:
        return 0.0
    return float(spectrum[np.abs(freqs - frequency) <= width].sum() / total)


def loudness(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.astype(np.float64))))) if len(pcm) else 0.0


async def hear_for(seconds: float) -> tuple[float, float]:
    """Let audio flow; the (start, end) of that stretch on the monotonic clock."""
    start = time.monotonic()
    await asyncio.sleep(seconds)
    return start, time.monotonic()
