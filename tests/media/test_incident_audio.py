"""S8 incident audio through real WebRTC: what the buffer keeps, sealing, the end, retention."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

from tests.media.incidentkit import ABSENT, PRESENT, decode, end, tones
from tests.media.voicekit import MEDIA_SETTINGS, band_share, frames_after, planes
from tests.waiting import until
from townhall.bus import channels
from townhall.media.codec import RATE

pytestmark = [pytest.mark.settings(**MEDIA_SETTINGS), pytest.mark.usefixtures("media_plane")]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@planes("embedded", "janus")  # reads the buffers of this process
async def test_sealed_audio_is_the_audience_mix_of_unmuted_people_on_stage(
    people: Any, container: Any
) -> None:
    rid, who, audios = await tones(people)
    try:
        assert container.media.seal(rid, "incident-1") == "incident-1"
        # A second report on the same room points at the same recording.
        assert container.media.seal(rid, "incident-2") == "incident-1"
        await frames_after(audios[3], time.monotonic(), 150)  # 3 s more after the seal
    finally:
        await end(container, who["mod"], rid, audios)

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


@planes("embedded", "janus")  # reads the buffers of this process
async def test_an_unreported_room_leaves_no_audio_and_no_key(
    people: Any, container: Any, settings: Any
) -> None:
    before = files_under(settings.data_dir)
    rid, who, audios = await tones(people)
    key = weakref.ref(container.media.buffers()[rid].key)
    try:
        await until(lambda: container.media.buffers()[rid].bytes_held > 0, "audio in the buffer")
    finally:
        await end(container, who["mod"], rid, audios)
    gc.collect()
    assert key() is None
    assert not (settings.data_dir / "incidents").exists() or not any(
        (settings.data_dir / "incidents").iterdir()
    )
    assert files_under(settings.data_dir) == before
    assert container.media.seal(rid, "too-late") is None


@planes("embedded", "janus")  # reads the buffers of this process
async def test_sealed_audio_and_its_key_are_destroyed_after_the_retention(
    people: Any, container: Any, settings: Any
) -> None:
    rid, who, audios = await tones(people)
    try:
        # Asked over the bus, as a report filed in any process asks.
        await container.bus.publish(channels.INCIDENTS, channels.seal_request(rid, "incident-1"))
        buffers = container.media.buffers()
        await until(lambda: buffers[rid].incident_id == "incident-1", "the seal")
        await frames_after(audios[3], time.monotonic(), 25)
    finally:
        await end(container, who["mod"], rid, audios)
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
