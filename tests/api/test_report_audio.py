"""S8 incident audio over HTTP: a report about a live room seals its audio, staff fetch it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.roomkit import code
from tests.media.incidentkit import ABSENT, PRESENT, decode, end, tones
from tests.media.voicekit import MEDIA_SETTINGS, band_share, frames_after
from tests.waiting import until

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS)


async def report(client: Any, **body: Any) -> int:
    r = await client.post("/api/reports", json={"category": "harassment", **body})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def sealed_live_room(people: Any, container: Any) -> tuple[int, Any, dict[str, Any]]:
    """liz reports ann in a live room of tones; the room ends after 2 s more of audio.
    Returns the report's id, a staff client, and the people."""
    rid, who, audios = await tones(people)
    try:
        report_id = await report(who["liz"], user="ann", text="she shouted at me")
        buffers = container.media.buffers()
        await until(lambda: buffers[rid].incident_id is not None, "the room's audio to be sealed")
        await frames_after(audios[3], time.monotonic(), 100)
    finally:
        await end(container, who["mod"], rid, audios)
    return report_id, await people.admin(), who


async def test_staff_hear_the_reported_speaker_and_never_muted_people_or_listeners(
    people: Any, container: Any
) -> None:
    report_id, staff, who = await sealed_live_room(people, container)

    r = await staff.get(f"/api/admin/reports/{report_id}/audio")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/ogg"
    assert r.headers["cache-control"] == "no-store"
    pcm = decode(r.content)
    assert band_share(pcm, 440) > PRESENT
    assert band_share(pcm, 660) < ABSENT and band_share(pcm, 880) < ABSENT

    detail = (await staff.get(f"/api/admin/reports/{report_id}")).json()
    timeline = detail["audio"]["timeline"]
    assert detail["audio"]["url"] == f"/api/admin/reports/{report_id}/audio"
    assert {s["username"] for s in timeline["speaking"]} == {"ann"}
    assert {s["username"] for s in timeline["unmuted"]} == {"ann"}
    assert all(0 <= s["from"] < s["to"] <= timeline["seconds"] for s in timeline["speaking"])

    for name in ("liz", "ann"):  # the reporter and the reported: neither is staff
        r = await who[name].get(f"/api/admin/reports/{report_id}/audio")
        assert r.status_code == 403 and code(r) == "not_staff"


async def test_a_report_after_the_room_ended_has_no_audio(people: Any, container: Any) -> None:
    rid, who, audios = await tones(people)
    await end(container, who["mod"], rid, audios)
    report_id = await report(who["liz"], room=rid)
    staff = await people.admin()
    r = await staff.get(f"/api/admin/reports/{report_id}/audio")
    assert r.status_code == 404 and code(r) == "incident_audio_not_found"
    assert (await staff.get(f"/api/admin/reports/{report_id}")).json()["audio"] is None
    assert not (container.settings.data_dir / "incidents").exists() or not any(
        (container.settings.data_dir / "incidents").iterdir()
    )


async def test_sealed_audio_is_gone_after_the_retention(people: Any, container: Any) -> None:
    report_id, staff, _ = await sealed_live_room(people, container)
    assert (await staff.get(f"/api/admin/reports/{report_id}/audio")).status_code == 200
    people.clock.advance(days=30, seconds=1)
    await container.media.sweep_incidents()
    r = await staff.get(f"/api/admin/reports/{report_id}/audio")
    assert r.status_code == 404 and code(r) == "incident_audio_not_found"
    assert (await staff.get(f"/api/admin/reports/{report_id}")).json()["audio"] is None
    assert not any((container.settings.data_dir / "incidents").iterdir())
