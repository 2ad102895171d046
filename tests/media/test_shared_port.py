"""Every audio connection in a process shares one UDP port per address, and still hears."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aioice import stun
from aiortc import RTCPeerConnection

from tests.api.roomkit import create, join
from tests.media.voicekit import MEDIA_SETTINGS, band_share, connect, frames_after
from townhall.client.voice import ToneSource
from townhall.media import ice
from townhall.media.shared_port import request_ufrag

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS)


async def answered_ports(client: Any, rid: str) -> set[int]:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="recvonly")
        ice.bind(pc, ice.Binding(addresses=("127.0.0.1",)))
        await pc.setLocalDescription(await pc.createOffer())
        r = await client.post(
            f"/api/rooms/{rid}/media", json={"type": "offer", "sdp": pc.localDescription.sdp}
        )
        assert r.status_code == 200, r.text
        lines = [x for x in r.json()["sdp"].splitlines() if x.startswith("a=candidate:")]
        return {int(x.split()[5]) for x in lines}
    finally:
        await pc.close()


async def test_connections_share_one_port_and_each_hears_the_room(people: Any) -> None:
    """Two listeners are answered with the same port; both hear the speaker's tone."""
    ann, liz, max_ = [await people.member(n) for n in ("ann", "liz", "max")]
    rid = (await create(ann, title="One port"))["id"]
    for client in (liz, max_):
        await join(client, rid)
    first, second = await answered_ports(liz, rid), await answered_ports(max_, rid)
    assert len(first) == 1 and first == second
    r = await ann.post(f"/api/rooms/{rid}/commands", json={"command": "unmute"})
    assert r.status_code == 200, r.text
    speaker = await connect(ann, rid, ToneSource(440))
    a, b = await connect(liz, rid), await connect(max_, rid)
    try:
        for audio in (a, b):
            heard = await frames_after(audio, 0.0, 50)
            assert band_share(np.concatenate(heard[25:]), 440) > 0.2
    finally:
        for audio in (speaker, a, b):
            await audio.close()


@pytest.mark.settings(**MEDIA_SETTINGS, media_shared_port=False)
async def test_without_the_shared_port_each_connection_has_its_own(people: Any) -> None:
    """``media_shared_port = false``: every connection is answered with a port of its own."""
    ann, liz = await people.member("ann"), await people.member("liz")
    rid = (await create(ann, title="Own ports"))["id"]
    await join(liz, rid)
    assert await answered_ports(ann, rid) != await answered_ports(liz, rid)


def test_a_binding_request_names_the_connection_it_is_for() -> None:
    """The local half of a STUN request's USERNAME routes it; other datagrams have none."""
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes["USERNAME"] = "ours:theirs"
    request.add_message_integrity(b"password")
    request.add_fingerprint()
    assert request_ufrag(bytes(request)) == "ours"
    response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE)
    assert request_ufrag(bytes(response)) is None
    assert request_ufrag(b"\x80\x6f" + bytes(40)) is None
