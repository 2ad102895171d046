"""S8 incident audio through real WebRTC: what the buffer keeps, sealing, the end, retention."""

from __future__ import annotations

import gc
import io
import time
import weakref
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.api.roomkit import bring_on_stage, create, join, ok
from tests.media.voicekit import MEDIA_SETTINGS, band_share, connect, frames_after, recent
from tests.waiting import until
from townhall.client.voice import RoomAudio, ToneSource
from townhall.media.codec import RATE

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS)

PRESENT = 0.2
ABSENT = 0.01


async def tones(people: Any) -> tuple[str, Any, list[RoomAudio]]:
    """ann on stage at 440 Hz, bob on stage muted at 660 Hz, liz a listener sending 880 Hz
    anyway, mod on stage and silent; returns once mod hears ann."""
    mod, ann, bob, liz = [await people.member(n) for n in ("mod", "ann", "bob", "liz")]
    rid = (await create(mod, title="Tones"))["id"]
    for client, name in ((ann, "ann"), (bob, "bob")):
        await join(client, rid)
        await bring_on_stage(mod, client, rid, name)
    await ok(ann, rid, "unmute")
    await join(liz, rid)
    audios = [
        await connect(ann, rid, ToneSource(440)),
        await connect(bob, rid, ToneSource(660)),
        await connect(liz, rid, ToneSource(880)),
        await connect(mod, rid),
    ]
    await until(lambda: band_share(recent(audios[3], 0.4), 440) > PRESENT, "mod to hear ann")
    return rid, mod, audios


async def end(container: Any, mod: Any, rid: str, audios: list[RoomAudio]) -> None:
    """The moderator ends the room; returns once its audio here has closed and every write
    is on disk."""
    await ok(mod, rid, "end")
    await until(lambda: rid not in container.media.buffers(), "the room's audio to close")
    for audio in audios:
        await audio.close()
    await container.media.incidents.flushed()


def decode(ogg: bytes) -> np.ndarray:
    with av.open(io.BytesIO(ogg)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name in ("opus", "libopus")
        assert stream.rate == RATE
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
    return np.concatenate(frames).astype(np.float64)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def test_sealed_audio_is_the_audience_mix_of_unmuted_people_on_stage(
    people: Any, container: Any
) -> None:
    rid, mod, audios = await tones(people)
    try:
        assert container.media.seal(rid, "incident-1") == "incident-1"
        # A second report on the same room points at the same recording.
        assert container.media.seal(rid, "incident-2") == "incident-1"
        await frames_after(audios[3], time.monotonic(), 150)  # 3 s more after the seal
    finally:
        await end(container, mod, rid, audios)

    found = await container.media.incidents.export("incident-1")
    assert found is not None
    pcm = decode(found.ogg)
    assert len(pcm) > 3 * RATE
    assert band_share(pcm, 440) > PRESENT
    assert band_share(pcm, 660) < ABSENT and band_share(pcm, 880) < ABSENT

    timeline = found.timeline
    assert timeline["room"] == rid and timeline["ended_at"] is not None
    assert {s["username"] for s in timeline["speaking"]} == {"ann"}
    assert {s["username"] for s in timeline["unmuted"]} == {"ann"}
    assert {"mod", "ann", "bob"} <= {s["username"] for s in timeline["stage"]}
    assert "liz" not in {s["username"] for s in timeline["stage"]}
    assert all(0 <= s["from"] < s["to"] <= timeline["seconds"] for s in timeline["speaking"])

    again = await container.media.incidents.export("incident-2")
    assert again is not None and again.timeline == timeline


async def test_an_unreported_room_leaves_no_audio_and_no_key(
    people: Any, container: Any, settings: Any
) -> None:
    before = files_under(settings.data_dir)
    rid, mod, audios = await tones(people)
    key = weakref.ref(container.media.buffers()[rid].key)
    try:
        await until(lambda: container.media.buffers()[rid].bytes_held > 0, "audio in the buffer")
    finally:
        await end(container, mod, rid, audios)
    gc.collect()
    assert key() is None
    assert not (settings.data_dir / "incidents").exists() or not any(
        (settings.data_dir / "incidents").iterdir()
    )
    assert files_under(settings.data_dir) == before
    assert container.media.seal(rid, "too-late") is None


async def test_sealed_audio_and_its_key_are_destroyed_after_the_retention(
    people: Any, container: Any, settings: Any
) -> None:
    rid, mod, audios = await tones(people)
    try:
        assert container.media.seal(rid, "incident-1") == "incident-1"
        await frames_after(audios[3], time.monotonic(), 25)
    finally:
        await end(container, mod, rid, audios)
    incidents = settings.data_dir / "incidents"
    assert (incidents / "incident-1" / "key").is_file()
    assert any(p.suffix == ".chunk" for p in (incidents / "incident-1").iterdir())

    people.clock.advance(days=29)
    await container.media.sweep_incidents()
    assert await container.media.incidents.export("incident-1") is not None

    people.clock.advance(days=1, seconds=1)
    await container.media.sweep_incidents()
    assert await container.media.incidents.export("incident-1") is None
    assert not any(incidents.iterdir())
