"""One person's WebRTC connection to a room: negotiated by aiortc, driven by the mixer.

aiortc does ICE, DTLS and SRTP key setup. After that the hot paths bypass its per-track
tasks: the mixer writes RTP straight through the session's SRTP context and the nominated
ICE socket (``Outlet``), and a speaker's packets are decoded as they arrive
(``Session._on_rtp``), without aiortc's jitter buffer and decoder thread. Packets that may not be
heard (a listener's, a muted speaker's) are dropped at the ICE layer before decryption.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from townhall.errors import InvalidInput
from townhall.media import ice, rtp, shim
from townhall.media.backend import MAX_SDP_CHARS
from townhall.media.codec import FRAME_SAMPLES, Decoder, Outgoing
from townhall.media.native import Native
from townhall.media.shared_port import Lane

logger = logging.getLogger(__name__)


class IdleTrack(MediaStreamTrack):
    """Gives aiortc's sender a track that never yields: the mixer sends instead."""

    kind = "audio"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


class Outlet:
    """Where RTP for one person leaves: their SRTP context and nominated ICE pair, and
    with the native loop their outlet in it (``native``: the same SRTP context, and its
    own sequence number and timestamp)."""

    __slots__ = (
        "addr",
        "context",
        "loop",
        "native",
        "nominated",
        "one",
        "pair",
        "payload_type",
        "protect",
        "send",
        "seq",
        "shared",
        "ssrc",
        "ts",
    )

    def __init__(
        self, transceiver: RTCRtpTransceiver, payload_type: int, native: Native | None = None
    ) -> None:
        dtls = transceiver.sender.transport
        self.protect = shim.tx_protect(dtls)
        self.nominated = shim.nominated(shim.ice_connection(dtls))
        self.ssrc = shim.sender_ssrc(transceiver.sender)
        self.payload_type = payload_type
        self.seq = secrets.randbelow(0x10000)
        self.ts = secrets.randbelow(0x100000000)
        self.pair: Any = None
        self.shared = False
        """Its route goes through a shared port (``shared_port.py``)."""
        self.send: Any = None
        self.addr: tuple[str, int] | None = None
        self.native: Any = None
        """The outlet in the native loop (a cffi pointer), or None: the Python loop."""
        self.one: Any = None
        """A one-outlet batch of it, for a person on stage."""
        self.loop = native
        self.context: Any = None
        """aiortc's SRTP context (a pylibsrtp ``Session``), held while the native outlet
        protects with it."""
        if native is not None:
            self.context, address = shim.tx_context(dtls)
            self.native = native.outlet(address, self.ssrc, payload_type, self.seq, self.ts)
            self.one = native.batch([self.native])

    def route(self, pair: Any) -> None:
        """Follow the ICE pair in use: its socket's own sendto, and the peer's address."""
        self.pair = pair
        self.shared = False
        if pair is None:
            self.send = self.addr = None
            if self.loop is not None:
                self.loop.route(self.native, -1, None)
            return
        # The datagram socket itself: asyncio's wrapper costs a microsecond per packet.
        transport = pair.protocol.transport
        self.shared = isinstance(transport, Lane)
        sock = transport.socket if self.shared else shim.transport_socket(transport)
        self.send = sock.sendto if sock is not None else transport.sendto
        self.addr = pair.remote_addr
        if self.loop is not None:
            self.loop.route(self.native, sock.fileno() if sock is not None else -1, self.addr)


def send_to_all(outlets: list[Outlet], payload: bytes, samples: int) -> int:
    """One encoded payload to many people: per person only the RTP header and SRTP differ.

    This loop is the cost of a listener; keep it free of anything that is not per packet.
    A full socket buffer drops that packet for that person (audio is not worth queueing).
    The native loop (``fanout.c th_send``) does the same, byte for byte."""
    pack = rtp.HEADER.pack
    flags = rtp.VERSION_FLAGS
    sent = 0
    for o in outlets:
        pair = o.nominated.get(1)
        if pair is not o.pair:
            o.route(pair)
        if o.send is None:
            continue
        o.seq = seq = (o.seq + 1) & 0xFFFF
        o.ts = ts = (o.ts + samples) & 0xFFFFFFFF
        try:
            o.send(o.protect(pack(flags, o.payload_type, seq, ts, o.ssrc) + payload), o.addr)
            sent += 1
        except OSError:  # a full buffer, or a closing socket (its session tidies up)
            continue
    return sent


ROUTE_CHECK_EVERY = 8
"""Packets between two looks at the native outlets' ICE pairs, when all send through a
shared port (a look costs a tenth of a microsecond a listener; routes change at most when
a connection ends, and a packet sent meanwhile to the address it had harms no one). A
socket of its own is looked at on every packet: once closed, its number may be reused."""


class Fanout:
    """The outlets one payload goes to, split once between the native loop and the Python
    one (an outlet made without the native loop)."""

    __slots__ = ("_batch", "_count", "_native", "_natives", "_python", "_shared", "_until_check")

    def __init__(self, outlets: list[Outlet], native: Native | None) -> None:
        self._native = native
        self._natives = [o for o in outlets if o.native is not None] if native else []
        self._python = [o for o in outlets if o.native is None] if native else list(outlets)
        self._batch = native.batch([o.native for o in self._natives]) if native else None
        self._count = len(self._natives)
        self._shared = False
        self._until_check = 0

    def send(self, payload: bytes, samples: int) -> int:
        sent = 0
        if self._count:
            self._until_check -= 1
            if self._until_check <= 0 or not self._shared:
                self._check_routes()
            assert self._native is not None
            sent = self._native.send(self._batch, self._count, payload, samples)
        if self._python:
            sent += send_to_all(self._python, payload, samples)
        return sent

    def _check_routes(self) -> None:
        shared = True
        for o in self._natives:  # the only per-listener Python left: is the route new?
            pair = o.nominated.get(1)
            if pair is not o.pair:
                o.route(pair)
            shared = shared and o.shared
        self._shared = shared
        self._until_check = ROUTE_CHECK_EVERY


def send_one(outlet: Outlet, native: Native | None, payload: bytes, samples: int) -> int:
    """A payload for one person (their own mix on stage), by the loop their outlet is in."""
    if outlet.native is None or native is None:
        return send_to_all([outlet], payload, samples)
    pair = outlet.nominated.get(1)
    if pair is not outlet.pair:
        outlet.route(pair)
    return native.send(outlet.one, 1, payload, samples)


class Session:
    """A person's media connection in one room."""

    def __init__(
        self,
        room_id: str,
        user_id: int,
        username: str,
        pc: RTCPeerConnection,
        transceiver: RTCRtpTransceiver,
        sends: bool,
        input_frames: int,
        native: Native | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(12)
        self.room_id = room_id
        self.user_id = user_id
        self.username = username
        self.pc = pc
        self.transceiver = transceiver
        self.sends = sends
        self.payload_type: int = shim.codecs(transceiver)[0].payloadType or 111
        self.outlet: Outlet | None = None
        self.may_send = False
        """Set by the room's policy: on stage and unmuted. Checked on every packet."""
        self.inbox: deque[np.ndarray] = deque(maxlen=input_frames)
        self.encoder: Outgoing | None = None
        """Their own mix-minus encoder while on stage."""
        self.dropped = 0
        self._decoder = Decoder() if sends else None
        self._last_seq: int | None = None
        self.closed = False
        self._native = native
        self.auth_session: int | None = None
        """The sign-in session it was opened with: revoking that session ends it."""

    # --- wiring, once negotiated -----------------------------------------------------------

    def attach(
        self, on_ready: Callable[[Session], None], on_gone: Callable[[Session], None]
    ) -> None:
        dtls = self.transceiver.sender.transport

        def hook(pass_on: shim.Arrival) -> shim.Arrival:
            def arrived(data: bytes, component: int) -> None:
                # Before SRTP, before aiortc: audio that may not be heard costs one check. A
                # receive-only client's RTCP reports are not used either (nothing adapts).
                if not data:
                    return
                if 127 < data[0] < 192 and (
                    not self.sends or (rtp.is_rtp(data) and not self.may_send)
                ):
                    self.dropped += 1
                    return
                pass_on(data, component)

            return arrived

        shim.intercept_arrivals(shim.ice_connection(dtls), hook)
        shim.on_rtp(dtls, self._on_rtp)

        @self.pc.on("connectionstatechange")
        def changed() -> None:
            state = self.pc.connectionState
            if state == "connected" and self.outlet is None:
                self.outlet = Outlet(self.transceiver, self.payload_type, self._native)
                on_ready(self)
            elif state in ("failed", "closed"):
                on_gone(self)

    def stop_hearing(self) -> None:
        self.may_send = False
        self.inbox.clear()
        self._last_seq = None

    async def _on_rtp(self, data: bytes, arrival_time_ms: int = 0) -> None:
        if not self.may_send or self._decoder is None:
            return
        packet = rtp.parse(data)
        if packet is None or packet.payload_type != self.payload_type:
            return
        if self._last_seq is not None and not rtp.newer(packet.sequence, self._last_seq):
            return  # late or repeated: its moment has passed
        self._last_seq = packet.sequence
        pcm = self._decoder.decode(packet.payload)
        if pcm is None:
            return
        for start in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            self.inbox.append(pcm[start : start + FRAME_SAMPLES])

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.may_send = False
            await self.pc.close()


async def negotiate(
    offer: str, binding: ice.Binding
) -> tuple[RTCPeerConnection, RTCRtpTransceiver, str, bool]:
    """Answer a client's offer of one Opus audio stream: (connection, transceiver, answer
    SDP, whether the client offered to send)."""
    if len(offer) > MAX_SDP_CHARS:
        raise InvalidInput("sdp_too_long", f"An offer has at most {MAX_SDP_CHARS} characters.")
    if not offer.lstrip().startswith("v=0"):
        raise InvalidInput("invalid_sdp", "The offer is not a session description.")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except Exception as exc:
            raise InvalidInput("invalid_sdp", f"The offer could not be read: {exc}.") from None
        transceivers = pc.getTransceivers()
        if len(transceivers) != 1 or transceivers[0].kind != "audio":
            raise InvalidInput("sdp_not_one_audio", "Offer exactly one audio stream.")
        transceiver = transceivers[0]
        offered = shim.codecs(transceiver)
        if not offered or offered[0].mimeType.lower() != "audio/opus":
            raise InvalidInput("sdp_no_opus", "The offer must include the Opus codec.")
        direction = shim.offer_direction(transceiver)  # ours: the reverse of the client's
        if direction not in ("sendrecv", "sendonly"):
            raise InvalidInput("sdp_must_receive", "The offer must receive audio.")
        shim.without_sender_reports(pc.addTrack(IdleTrack()))
        ice.bind(pc, binding)
        await pc.setLocalDescription(await pc.createAnswer())
    except BaseException:
        await pc.close()
        raise
    return pc, transceiver, pc.localDescription.sdp, direction == "sendrecv"
