"""The two fan-out loops, native and Python, send the same bytes, and a real aiortc
receiver decrypts them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from pylibsrtp import Policy, Session

from tests.waiting import until
from townhall.media import ice, native, rtp, shim
from townhall.media.session import Fanout, Outlet, negotiate, send_one, send_to_all

LOOPBACK = ice.Binding(addresses=("127.0.0.1",))
SAMPLES = 960


@dataclass
class Receiver:
    """A receive-only aiortc client whose SRTP datagrams are caught before decryption."""

    pc: RTCPeerConnection
    caught: list[bytes] = field(default_factory=list)
    decrypted: list[rtp.Packet] = field(default_factory=list)
    pass_on: Any = None

    def decrypt(self, datagram: bytes) -> None:
        """Hand one caught datagram on to aiortc: SRTP, then our RTP handler."""
        self.pass_on(datagram, 1)


@dataclass
class Pair:
    server: RTCPeerConnection
    transceiver: RTCRtpTransceiver
    receiver: Receiver


async def connected_pair() -> Pair:
    client = RTCPeerConnection()
    client.addTransceiver("audio", direction="recvonly")
    ice.bind(client, LOOPBACK)
    await client.setLocalDescription(await client.createOffer())
    server, transceiver, answer, _ = await negotiate(client.localDescription.sdp, LOOPBACK)
    await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    receiver = Receiver(client)

    def hook(pass_on: shim.Arrival) -> shim.Arrival:
        receiver.pass_on = pass_on

        def arrived(data: bytes, component: int) -> None:
            if rtp.is_rtp(data):
                receiver.caught.append(data)
            else:
                pass_on(data, component)

        return arrived

    for connection in shim.ice_connections(client):
        shim.intercept_arrivals(connection, hook)

    async def on_rtp(data: bytes, arrival_time_ms: int = 0) -> None:
        packet = rtp.parse(data)
        assert packet is not None
        receiver.decrypted.append(packet)

    shim.on_rtp(client.getTransceivers()[0].receiver.transport, on_rtp)
    await until(
        lambda: server.connectionState == client.connectionState == "connected", "connected"
    )
    return Pair(server, transceiver, receiver)


@pytest.fixture
async def pairs() -> AsyncIterator[list[Pair]]:
    made = [await connected_pair() for _ in range(3)]
    try:
        yield made
    finally:
        for p in made:
            await p.server.close()
            await p.receiver.pc.close()


@pytest.fixture
def loop() -> native.Native:
    found = native.load()
    if found is None:
        pytest.skip(f"no native fan-out loop here: {native.why_not()}")
    return found


def payload(i: int) -> bytes:
    return bytes([0xF8, i]) + bytes(range(i, i + 60))


async def test_native_and_python_loops_send_the_same_bytes_which_aiortc_decrypts(
    pairs: list[Pair], loop: native.Native
) -> None:
    """For each of three listeners, a Python outlet and a native one with the same SSRC,
    sequence and timestamp send byte-identical SRTP; the listener's aiortc decrypts it.

    The native outlet protects with aiortc's own context; the Python one here with a
    second context made from the keys ``shim.tx_key`` derives again, so the same packet
    can be sent twice (a context refuses to protect a sequence number again)."""
    python = [Outlet(p.transceiver, 111) for p in pairs]
    fast = [Outlet(p.transceiver, 111, loop) for p in pairs]
    for p, slow, quick in zip(pairs, python, fast, strict=True):
        slow.seq, slow.ts = quick.seq, quick.ts
        key = shim.tx_key(p.transceiver.sender.transport)
        policy = Policy(key=key.key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=key.profile)
        slow.protect = Session(policy).protect
    native_batch = Fanout(fast, loop)
    for i in range(4):
        assert send_to_all(python, payload(i), SAMPLES) == 3
        assert native_batch.send(payload(i), SAMPLES) == 3
    await until(lambda: all(len(p.receiver.caught) == 8 for p in pairs), "every packet")

    for p, quick in zip(pairs, fast, strict=True):
        by_python, by_native = p.receiver.caught[0::2], p.receiver.caught[1::2]
        assert by_python == by_native
        assert len(set(by_native)) == 4
        for datagram in by_native:
            p.receiver.decrypt(datagram)
        await until(lambda p=p: len(p.receiver.decrypted) == 4, "the decrypted packets")
        assert [d.payload for d in p.receiver.decrypted] == [payload(i) for i in range(4)]
        assert [d.sequence for d in p.receiver.decrypted] == [
            (quick.seq + i + 1) & 0xFFFF for i in range(4)
        ]
        assert loop.state(quick.native) == (
            (quick.seq + 4) & 0xFFFF,
            (quick.ts + 4 * SAMPLES) & 0xFFFFFFFF,
        )
        assert {d.ssrc for d in p.receiver.decrypted} == {shim.sender_ssrc(p.transceiver.sender)}


async def test_one_person_and_a_mixed_batch_go_by_their_own_loops(
    pairs: list[Pair], loop: native.Native
) -> None:
    """A person on stage (one outlet) and a batch holding outlets of both kinds: each
    packet arrives once and decrypts."""
    outlets = [Outlet(pairs[0].transceiver, 111, loop), Outlet(pairs[1].transceiver, 111)]
    assert Fanout(outlets, loop).send(payload(1), SAMPLES) == 2
    assert send_one(Outlet(pairs[2].transceiver, 111, loop), loop, payload(2), SAMPLES) == 1
    await until(lambda: all(len(p.receiver.caught) == 1 for p in pairs), "every packet")
    for p in pairs:
        p.receiver.decrypt(p.receiver.caught[0])
    await until(lambda: all(len(p.receiver.decrypted) == 1 for p in pairs), "decrypted")
    assert [p.receiver.decrypted[0].payload for p in pairs] == [payload(1)] * 2 + [payload(2)]


async def test_an_outlet_without_a_route_sends_nothing(
    pairs: list[Pair], loop: native.Native
) -> None:
    """Once its ICE pair is gone (the connection closing), a native outlet is skipped."""
    outlet = Outlet(pairs[0].transceiver, 111, loop)
    batch = Fanout([outlet], loop)
    assert batch.send(payload(0), SAMPLES) == 1
    await pairs[0].server.close()
    assert batch.send(payload(1), SAMPLES) == 0


def test_without_a_compiler_the_build_says_why_and_the_python_loop_is_used(
    tmp_path: Path,
) -> None:
    """No C compiler: the set-up step still succeeds, and says the Python loop is used."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "CC": "/bin/false"}
    done = subprocess.run(
        [sys.executable, "-m", "townhall.media.native"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "not available" in done.stdout and "the Python loop is used" in done.stdout
    assert not list(tmp_path.rglob("*.so"))
