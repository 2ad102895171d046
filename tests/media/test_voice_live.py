"""S5 around the audio: who-is-speaking levels, removal, reconnection, signalling errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.roomkit import bring_on_stage, code, create, join, ok, snap
from tests.api.test_ws import base, open_socket  # noqa: F401 (fixtures)
from tests.media.voicekit import (
    MEDIA_SETTINGS,
    band_share,
    client_addresses,
    connect,
    hear_for,
    planes,
    recent,
    signalling,
)
from tests.waiting import PATIENCE, until
from townhall.app import Container
from townhall.client.voice import RoomAudio, ToneSource

pytestmark = [pytest.mark.settings(**MEDIA_SETTINGS), pytest.mark.usefixtures("media_plane")]


async def speaker_and_listener(people: Any) -> tuple[str, Any, Any]:
    ann, liz = await people.member("ann"), await people.member("liz")
    rid = (await create(ann, title="Levels"))["id"]
    await ok(ann, rid, "unmute")
    await join(liz, rid)
    return rid, ann, liz


async def test_levels_name_who_is_speaking_over_the_websocket(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    rid, ann, liz = await speaker_and_listener(people)
    sock = await open_socket(liz)
    await sock.ok("subscribe", room=rid)
    speaker = await connect(ann, rid, ToneSource(440))
    try:
        levels = await sock.event("audio.levels")
        assert "seq" not in levels
        assert levels["data"]["levels"]["ann"] > 0.3
        await ok(ann, rid, "mute")
        # Once muted, the levels fall silent: an empty map, then nothing more.
        while (await sock.event("audio.levels"))["data"]["levels"]:
            pass
    finally:
        await speaker.close()


async def test_removed_person_loses_audio_and_cannot_reconnect(people: Any) -> None:
    rid, ann, liz = await speaker_and_listener(people)
    speaker = await connect(ann, rid, ToneSource(440))
    listener = await RoomAudio.open(
        signalling(liz, rid), bind_addresses=client_addresses(), reconnect=False, wait=PATIENCE
    )
    try:
        assert listener.connected
        await ok(ann, rid, "remove", target="liz")
        await until(lambda: not listener.connected, "liz's audio to be cut off")
        count = len(listener.heard.frames)
        await hear_for(0.4)
        assert len(listener.heard.frames) == count
        r = await liz.post(f"/api/rooms/{rid}/media", json={"type": "offer", "sdp": "v=0"})
        assert r.status_code == 403 and code(r) == "not_in_room"
    finally:
        await speaker.close()
        await listener.close()


async def test_new_connection_keeps_role_and_mute_state(people: Any) -> None:
    """A network change: the speaker's client drops its connection and makes a new one."""
    mod, bob, liz = [await people.member(n) for n in ("mod", "bob", "liz")]
    rid = (await create(mod))["id"]
    await join(bob, rid)
    await bring_on_stage(mod, bob, rid, "bob")
    await ok(bob, rid, "unmute")
    await join(liz, rid)
    speaker = await connect(bob, rid, ToneSource(660))
    listener = await connect(liz, rid)
    try:
        await until(lambda: band_share(recent(listener), 660) > 0.2, "liz to hear bob")
        old = speaker.session
        await speaker._pc.close()  # type: ignore[union-attr]  # the network goes away
        await speaker.wait_connected(PATIENCE)
        assert speaker.session != old and speaker.reconnects == 1
        resumed = time.monotonic()
        await until(
            lambda: band_share(recent(listener, since=resumed + 0.3), 660) > 0.2,
            "liz to hear bob on his new connection",
        )
        bob_now = next(m for m in (await snap(bob, rid))["stage"] if m["username"] == "bob")
        assert bob_now["role"] == "speaker" and bob_now["muted"] is False
    finally:
        await speaker.close()
        await listener.close()


@pytest.mark.parametrize(
    ("sdp", "expected"),
    [
        ("hello", "invalid_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "sdp_not_one_audio"),
    ],
)
async def test_bad_offers_get_clear_errors(people: Any, sdp: str, expected: str) -> None:
    rid, ann, _ = await speaker_and_listener(people)
    r = await ann.post(f"/api/rooms/{rid}/media", json={"type": "offer", "sdp": sdp})
    assert r.status_code == 400 and code(r) == expected


async def test_outsider_and_unknown_sessions(people: Any) -> None:
    rid, ann, _ = await speaker_and_listener(people)
    zed = await people.member("zed")
    r = await zed.post(f"/api/rooms/{rid}/media", json={"type": "offer", "sdp": "v=0"})
    assert r.status_code == 403 and code(r) == "not_in_room"
    r = await ann.post(f"/api/rooms/{rid}/media/nosuchsession/candidates", json={"candidate": ""})
    assert r.status_code == 404 and code(r) == "media_session_not_found"
    r = await ann.delete(f"/api/rooms/{rid}/media/nosuchsession")
    assert r.status_code == 404 and code(r) == "media_session_not_found"
    r = await ann.get("/api/media/config")
    assert r.status_code == 200 and r.json() == {"ice_servers": []}


async def test_candidates_and_hang_ups_in_a_room_without_audio(people: Any) -> None:
    """A room that does not exist, or has no audio yet, has no connections: 404 on every
    plane (with workers, naming it once put a nonexistent room into ``media_rooms``)."""
    ann = await people.member("ann")
    quiet = (await create(ann, title="No audio yet"))["id"]
    for rid in ("nosuchroom", quiet):
        r = await ann.post(
            f"/api/rooms/{rid}/media/nosuchsession/candidates", json={"candidate": ""}
        )
        assert r.status_code == 404 and code(r) == "media_session_not_found", r.text
        r = await ann.delete(f"/api/rooms/{rid}/media/nosuchsession")
        assert r.status_code == 404 and code(r) == "media_session_not_found", r.text


@pytest.mark.settings(
    media_ice_servers=[
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "s3cret"},
    ]
)
async def test_ice_servers_are_handed_to_clients(people: Any) -> None:
    """Anyone signed in learns the STUN servers; credentials come with a room's config."""
    rid, ann, _ = await speaker_and_listener(people)
    r = await ann.get("/api/media/config")
    assert r.json() == {"ice_servers": [{"urls": ["stun:stun.example.org:3478"]}]}
    r = await ann.get(f"/api/rooms/{rid}/media/config")
    assert r.json() == {
        "ice_servers": [
            {"urls": ["stun:stun.example.org:3478"]},
            {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "s3cret"},
        ]
    }


@planes("embedded")
@pytest.mark.settings(
    media_bind_addresses=["127.0.0.1"],
    media_port_min=47100,
    media_port_max=47119,
    media_public_ips=["203.0.113.7"],
)
async def test_answer_offers_configured_ports_and_public_address(people: Any) -> None:
    """Candidates come from the port range, and the public address is announced too."""
    rid, _, liz = await speaker_and_listener(people)
    listener = await connect(liz, rid)
    try:
        answer = listener._pc.remoteDescription.sdp  # type: ignore[union-attr]
        candidates = [
            line.split()
            for line in answer.splitlines()
            if line.startswith("a=candidate:") and " udp " in line.lower()
        ]
        hosts = {(c[4], int(c[5])) for c in candidates}
        assert {h for h, _ in hosts} == {"127.0.0.1", "203.0.113.7"}
        assert all(47100 <= port <= 47119 for _, port in hosts)
        assert len({port for _, port in hosts}) == 1  # the public address shares the port
    finally:
        await listener.close()


async def test_an_open_audio_connection_keeps_its_owner_present(
    people: Any, container: Container
) -> None:
    """A bot with only an audio connection (no WebSocket) is not swept out of the room."""
    rid, ann, liz = await speaker_and_listener(people)
    listener = await connect(liz, rid)
    try:
        settings = container.settings
        for _ in range(3):
            people.clock.advance(seconds=settings.room_presence_timeout_seconds + 1)
            await join(ann, rid)  # ann is alive too
            await container.gateway.heartbeat()  # the periodic sign-of-life round
            await container.rooms.sweep()
        audience = (await snap(ann, rid))["audience"]
        assert [(m["username"], m["away"]) for m in audience] == [("liz", False)]
    finally:
        await listener.close()


async def test_the_only_connection_of_a_room_can_be_replaced(people: Any) -> None:
    """Alone in a room, a speaker makes a new connection and still hears the room's mix."""
    ann = await people.member("ann")
    rid = (await create(ann, title="Alone"))["id"]
    await ok(ann, rid, "unmute")
    audio = await connect(ann, rid, ToneSource(440))
    try:
        await audio.reconnect()
        await audio.wait_connected(PATIENCE)
        reconnected = time.monotonic()
        # ann hears a silent room: sparse packets, but packets, on the new connection.
        await until(
            lambda: any(t > reconnected for t, _ in audio.heard.frames),
            "a packet on the new connection",
        )
    finally:
        await audio.close()
