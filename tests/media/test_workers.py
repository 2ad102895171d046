"""Media workers: a room's audience on another worker than its mix, and what happens when
that worker dies (the room's own worker dying: tests/e2e/test_media_failover.py)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.api.roomkit import create, join, ok
from tests.api.test_ws import base, open_socket  # noqa: F401 (fixtures)
from tests.media.incidentkit import PRESENT
from tests.media.voicekit import MEDIA_SETTINGS, band_share, connect, recent
from tests.waiting import until
from townhall.app import Container
from townhall.client.voice import ToneSource
from townhall.media.pool import WorkerPool, receive_only

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS, media_workers=2)


def test_receive_only_offers_are_told_apart() -> None:
    assert receive_only("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n")
    assert not receive_only("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n")
    assert not receive_only("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")


async def test_listeners_hear_the_mix_from_another_worker_and_survive_its_death(
    people: Any,
    container: Container,
    open_socket: Any,  # noqa: F811
) -> None:
    pool = container.media
    assert isinstance(pool, WorkerPool)
    ann, liz = await people.member("ann"), await people.member("liz")
    rid = (await create(ann, title="Across workers"))["id"]
    await ok(ann, rid, "unmute")
    await join(liz, rid)
    sock = await open_socket(liz)
    await sock.ok("subscribe", room=rid)
    speaker = await connect(ann, rid, ToneSource(440))
    listener = await connect(liz, rid)
    try:
        await until(
            lambda: {speaker.session, listener.session} <= pool.holders().keys(),
            "the workers to tell their connections",
        )
        mixing, shard = pool.holders()[speaker.session], pool.holders()[listener.session]
        assert mixing != shard  # the listener went to the less loaded worker
        await until(lambda: band_share(recent(listener, 0.4), 440) > PRESENT, "liz to hear ann")

        pid = pool.workers()[shard]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        notice = await sock.event("audio.reconnect")
        assert notice["data"] == {"sessions": [listener.session]}
        assert listener.handle(notice)
        await until(lambda: listener.reconnects == 1 and listener.connected, "liz to reconnect")
        anew = time.monotonic()  # what arrives from now is the new connection's
        await until(
            lambda: band_share(recent(listener, 0.4, since=anew), 440) > PRESENT,
            "liz to hear ann again",
        )
        # The room's mix was elsewhere: the speaker's connection never moved.
        assert speaker.reconnects == 0 and pool.holders()[speaker.session] == mixing
    finally:
        for audio in (speaker, listener):
            await audio.close()


async def test_an_api_process_that_did_not_place_a_connection_finds_its_worker(
    people: Any, container: Container
) -> None:
    """With several API processes, a client's candidate or hang-up can reach a process that
    did not place its connection and has not yet heard from the workers which holds it (a
    listener on a fan-out shard, not on the room's home): the process asks each worker in
    turn, the likeliest first. Here this process is made to know wrong and too little."""
    pool = container.media
    assert isinstance(pool, WorkerPool)
    ann, liz = await people.member("ann"), await people.member("liz")
    rid = (await create(ann, title="Two doors"))["id"]
    await join(liz, rid)
    speaker = await connect(ann, rid, ToneSource(440))
    listener = await connect(liz, rid)
    try:
        await until(
            lambda: {speaker.session, listener.session} <= pool.holders().keys(),
            "the workers to tell their connections",
        )
        home, shard = pool.holders()[speaker.session], pool.holders()[listener.session]
        assert home != shard
        # What this process knows is wrong (the home holds it) and the workers have not said.
        pool._held[listener.session] = home
        told = pool._workers[shard].connections = []
        gone = listener.session
        path = f"/api/rooms/{rid}/media/{gone}"
        r = await liz.post(f"{path}/candidates", json={"candidate": "", "sdpMid": "0"})
        assert r.status_code == 200, r.text
        r = await liz.delete(path)
        assert r.status_code == 200, r.text
        # The shard's word after the hang-up (a word before it may still name the listener).
        await until(
            lambda: pool._workers[shard].connections is not told and gone not in pool.holders(),
            "the shard to say the connection is gone",
        )
        r = await liz.delete(path)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "media_session_not_found"
    finally:
        for audio in (speaker, listener):
            await audio.close()
