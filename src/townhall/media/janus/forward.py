"""A room's audience mix as AudioBridge forwards it here, for the incident buffer (S8).

AudioBridge's RTP forwarder sends the room's mix (everyone it mixes: unmuted people on stage,
nothing else) as SRTP under a key made for the room, to a UDP socket of this process. The
Opus packets go into the room's ``RoomBuffer`` as they are: no decoding, no encoding. RTP
timestamps place them in time; a hole (lost packets, or the mix moving to another instance
after one died) goes in as held-back silence, so time in the buffer stays the room's time.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Callable

from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session

from townhall.media import rtp
from townhall.media.codec import RATE

logger = logging.getLogger(__name__)

Sink = Callable[[bytes | None, int], None]
"""(an Opus packet or None for silence, the samples it covers)."""

_MAX_GAP = 60 * RATE
"""A jump in timestamps beyond this is a new stream, measured by the clock instead."""


def new_key() -> bytes:
    """An SRTP master key and salt (AES_CM_128_HMAC_SHA1_80: 16 + 14 bytes)."""
    return secrets.token_bytes(30)


def sdes(key: bytes) -> str:
    """The key as Janus takes it (``srtp_crypto``, ``srtpcrypto``): base64, as SDES does."""
    return base64.b64encode(key).decode()


def opus_samples(payload: bytes) -> int:
    """Samples at 48 kHz in one Opus packet, from its TOC byte (RFC 6716, 3.1)."""
    if not payload:
        return 0
    toc = payload[0]
    config = toc >> 3
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    count = toc & 0x03
    frames = 1 if count == 0 else 2 if count < 3 else (payload[1] & 0x3F if len(payload) > 1 else 0)
    return frame * frames


class MixReceiver(asyncio.DatagramProtocol):
    """Receives one room's forwarded mix and hands each packet to ``sink``."""

    def __init__(self, key: bytes, sink: Sink) -> None:
        self._srtp = Session(
            Policy(
                key=key,
                ssrc_type=Policy.SSRC_ANY_INBOUND,
                srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            )
        )
        self._sink = sink
        self._ssrc: int | None = None
        self._next = 0
        self._last_at = 0.0
        self.transport: asyncio.DatagramTransport | None = None
        self.packets = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not rtp.is_rtp(data):
            return
        try:
            plain = self._srtp.unprotect(data)
        except SrtpError:
            return  # not this room's key, or replayed
        packet = rtp.parse(plain)
        if packet is None:
            return
        now = time.monotonic()
        samples = opus_samples(packet.payload) or 960
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                held = int((now - self._last_at) * RATE)
                if held > samples:
                    self._sink(None, held - samples)
            self._ssrc = packet.ssrc
        else:
            ahead = (packet.timestamp - self._next) & 0xFFFFFFFF
            if ahead >= 0x80000000:
                return  # late or repeated: that moment is already in the buffer
            if 0 < ahead < _MAX_GAP:
                self._sink(None, ahead)
        self._next = (packet.timestamp + samples) & 0xFFFFFFFF
        self._last_at = now
        self.packets += 1
        self._sink(packet.payload, samples)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def listen(address: str, key: bytes, sink: Sink) -> tuple[MixReceiver, int]:
    """A receiver bound to ``address`` on a free port: (receiver, port)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: MixReceiver(key, sink), local_addr=(address, 0)
    )
    return protocol, int(transport.get_extra_info("sockname")[1])
