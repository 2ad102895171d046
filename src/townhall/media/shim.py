"""Every reach into aiortc's, aioice's and asyncio's private parts, and a check that they
are still there.

The media plane uses aiortc to set connections up (ICE, DTLS, SRTP keys) and then moves
audio itself (docs/voice.md, "Fan-out"). That needs things neither library promises: the
nominated ICE pair, the SRTP keys, the socket under a datagram transport, hooks on the
receive path. They are all here, and nowhere else, so an upgrade has one file to review.
``check()`` runs when the embedded media server starts (and in the tests): if a pinned
version changed, or a private name it relies on is gone, Townhall refuses to start with a
message naming what to review, instead of failing on the first listener.

After reviewing this module against a new version, update ``PINNED``. The native fan-out
loop (``fanout.c``) calls pylibsrtp's libsrtp with aiortc's contexts: a new pylibsrtp must
also still carry libsrtp 2 (its ``srtp_protect`` signature).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]
from aioice import Candidate
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from pylibsrtp import Policy, Session

PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}
"""The versions this module was reviewed against (pyproject.toml pins the same)."""

DTLS_SRTP_EXPORTER = b"EXTRACTOR-dtls_srtp"  # RFC 5764, section 4.2

Gather = Callable[[int, list[str], int], Awaitable[list[Candidate]]]
RtpHandler = Callable[[bytes, int], Awaitable[None]]
Arrival = Callable[[bytes, int], None]


class ShimError(RuntimeError):
    """aiortc or aioice no longer look the way the media plane relies on."""


# --- negotiation ------------------------------------------------------------------------------


def codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for a transceiver, preferred first."""
    return transceiver._codecs


def offer_direction(transceiver: RTCRtpTransceiver) -> str | None:
    """Our direction as the remote offer implies it (the reverse of the client's)."""
    return transceiver._offerDirection


def sender_ssrc(sender: RTCRtpSender) -> int:
    return sender._ssrc


def without_sender_reports(sender: RTCRtpSender) -> None:
    """Keep a sender that never sends RTP itself (we do) from sending RTCP: its sender
    reports would count none of our packets, and each costs the server about as much as
    a second of a listener's audio. Call before the connection starts. It still starts
    and stops as aiortc expects (``stop`` waits for these events)."""
    started: asyncio.Event = sender._RTCRtpSender__rtcp_started  # type: ignore[attr-defined]
    exited: asyncio.Event = sender._RTCRtpSender__rtcp_exited  # type: ignore[attr-defined]

    async def idle() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
        exited.set()

    sender._run_rtcp = idle  # type: ignore[method-assign]


# --- ICE ------------------------------------------------------------------------------------


def ice_connection(dtls: RTCDtlsTransport) -> Connection:
    """The aioice connection under a DTLS transport."""
    return dtls.transport.iceGatherer._connection


def ice_connections(pc: RTCPeerConnection) -> list[Connection]:
    """The ICE connection of each transceiver (one with BUNDLE)."""
    found: list[Connection] = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is None:
            continue
        connection = ice_connection(dtls)
        if connection not in found:
            found.append(connection)
    return found


def nominated(connection: Connection) -> dict[int, CandidatePair]:
    """The pair in use per component, kept up to date by aioice (read it, never write)."""
    return connection._nominated


def protocols(connection: Connection) -> list[StunProtocol]:
    """The UDP endpoints a connection gathered on."""
    return connection._protocols


def gather_with(connection: Connection, gather: Gather) -> None:
    """Gather host candidates with ``gather`` instead of aioice's own (before gathering);
    endpoints it opens must be added with ``add_protocol``."""
    connection.get_component_candidates = gather  # type: ignore[method-assign,assignment]


def add_protocol(connection: Connection, protocol: StunProtocol) -> None:
    connection._protocols.append(protocol)


def intercept_arrivals(connection: Connection, hook: Callable[[Arrival], Arrival]) -> None:
    """Every datagram the connection receives goes first to ``hook(pass_on)``'s result,
    which calls ``pass_on`` for those aiortc should still see (STUN, DTLS, SRTP)."""
    connection.data_received = hook(connection.data_received)  # type: ignore[method-assign,assignment]


def transport_socket(transport: asyncio.BaseTransport) -> socket.socket | None:
    """The socket under an asyncio datagram transport, whose own ``sendto`` skips
    asyncio's wrapper (a microsecond per packet); None when it has none."""
    return getattr(transport, "_sock", None)


# --- DTLS-SRTP ------------------------------------------------------------------------------


def tx_protect(dtls: RTCDtlsTransport) -> Callable[[bytes], bytes]:
    """aiortc's outbound SRTP context's ``protect``."""
    return dtls._tx_srtp.protect


def tx_context(dtls: RTCDtlsTransport) -> tuple[Any, int]:
    """aiortc's outbound SRTP context: (its pylibsrtp ``Session``, which owns it and must
    be kept referenced while it is used, and the address of its ``srtp_t``)."""
    session = dtls._tx_srtp
    if session is None:
        raise ShimError("the DTLS transport has no SRTP context yet")
    return session, int(_srtp.ffi.cast("uintptr_t", session._srtp[0]))


def srtp_protect_address() -> int:
    """The address of ``srtp_protect`` in the libsrtp that pylibsrtp carries (libsrtp 2's
    signature: ``(srtp_t, void *packet, int *len)``, protecting in place)."""
    return int(_srtp.ffi.cast("uintptr_t", _srtp.ffi.addressof(_srtp.lib, "srtp_protect")))


@dataclass(frozen=True)
class SrtpKey:
    """What an outbound SRTP context of one's own needs to encrypt like aiortc's."""

    profile: int
    """libsrtp's ``srtp_profile_t`` value."""
    key: bytes
    """Master key followed by master salt, as libsrtp takes it."""


def tx_key(dtls: RTCDtlsTransport) -> SrtpKey:
    """The outbound SRTP master key a connected DTLS transport negotiated, derived again
    from the DTLS session exactly as aiortc derives it (RFC 5764): aiortc does not keep
    it."""
    ssl = dtls._ssl
    if ssl is None or dtls._tx_srtp is None:
        raise ShimError("the DTLS transport has no SRTP keys yet")
    selected = ssl.get_selected_srtp_profile()
    profile = next((p for p in dtls._srtp_profiles if p.openssl_profile == selected), None)
    if profile is None:
        raise ShimError(f"the DTLS transport negotiated an unknown SRTP profile {selected!r}")
    material = ssl.export_keying_material(
        DTLS_SRTP_EXPORTER, 2 * (profile.key_length + profile.salt_length)
    )
    # aiortc: the DTLS server sends with the second half of each key and salt.
    ours = 1 if dtls._role == "server" else 0
    return SrtpKey(profile.libsrtp_profile, profile.get_key_and_salt(material, ours))


def on_rtp(dtls: RTCDtlsTransport, handler: RtpHandler) -> None:
    """Decrypted RTP arriving on ``dtls`` goes to ``handler(data, arrival_ms)`` instead of
    aiortc's receivers (its jitter buffer and decoder)."""
    dtls._handle_rtp_data = handler  # type: ignore[method-assign,assignment]


# --- the self-check -------------------------------------------------------------------------


def check_versions() -> None:
    """Refuse versions this module was not reviewed against."""
    wrong = []
    for name, pinned in PINNED.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "not installed"
        if found != pinned:
            wrong.append(f"{name} {found} (reviewed: {pinned})")
    if wrong:
        raise ShimError(
            "the media plane relies on private parts of aiortc and aioice, reviewed for "
            "the pinned versions only; installed: "
            + ", ".join(wrong)
            + ". Install the pinned versions (pyproject.toml), or review "
            "src/townhall/media/shim.py against the new ones and update its PINNED."
        )


def _require(what: str, obj: Any, names: tuple[str, ...], missing: list[str]) -> None:
    missing.extend(f"{what}.{name}" for name in names if not hasattr(obj, name))


async def check() -> None:
    """Check the pinned versions, and that every private name this module uses exists on
    real objects (a peer connection with one audio transceiver, a datagram endpoint).
    Raises ``ShimError`` naming what is missing."""
    check_versions()
    missing: list[str] = []
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("audio", direction="sendrecv")
        _require("RTCRtpTransceiver", transceiver, ("_codecs", "_offerDirection"), missing)
        _require(
            "RTCRtpSender",
            transceiver.sender,
            ("_ssrc", "_run_rtcp", "_RTCRtpSender__rtcp_started", "_RTCRtpSender__rtcp_exited"),
            missing,
        )
        dtls = transceiver.sender.transport
        _require(
            "RTCDtlsTransport",
            dtls,
            ("_tx_srtp", "_ssl", "_role", "_srtp_profiles", "_handle_rtp_data"),
            missing,
        )
        for profile in getattr(dtls, "_srtp_profiles", ()):
            _require(
                "SRTPProtectionProfile",
                profile,
                ("openssl_profile", "libsrtp_profile", "key_length", "salt_length"),
                missing,
            )
            _require("SRTPProtectionProfile", profile, ("get_key_and_salt",), missing)
        gatherer = dtls.transport.iceGatherer
        _require("RTCIceGatherer", gatherer, ("_connection",), missing)
        connection = getattr(gatherer, "_connection", None)
        if connection is not None:
            _require(
                "aioice.Connection",
                connection,
                ("_nominated", "_protocols", "get_component_candidates", "data_received"),
                missing,
            )
    finally:
        await pc.close()
    _require("pylibsrtp's library", _srtp.lib, ("srtp_protect",), missing)
    policy = Policy(
        key=bytes(30),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    )
    _require("pylibsrtp.Session", Session(policy), ("_srtp",), missing)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        sock = getattr(transport, "_sock", None)
        if not isinstance(sock, socket.socket):
            missing.append("asyncio datagram transport._sock")
    finally:
        transport.close()
    if missing:
        raise ShimError(
            "aiortc or aioice changed underneath the media plane: missing "
            + ", ".join(missing)
            + ". Review src/townhall/media/shim.py."
        )
