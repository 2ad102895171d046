"""``rtp.parse`` and ``rtp.newer``: the few RTP bytes the media plane reads (RFC 3550)."""

from __future__ import annotations

import struct

from townhall.media import rtp


def header(
    *, pt: int = 111, seq: int = 7, ts: int = 960, ssrc: int = 0xDEADBEEF, flags: int = 0x80
) -> bytes:
    return struct.pack("!BBHII", flags, 0x80 | pt, seq, ts, ssrc)


def test_a_plain_packet_gives_its_fields_and_payload() -> None:
    """Version 2, marker set: the payload type without the marker bit, and the payload."""
    packet = rtp.parse(header() + b"opus")
    assert packet == rtp.Packet(111, 7, 960, 0xDEADBEEF, b"opus")
    assert rtp.is_rtp(header() + b"opus")


def test_csrcs_an_extension_and_padding_are_skipped() -> None:
    """Contributing sources, a header extension and padding are not part of the payload."""
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00"
    data = header(flags=0x80 | 0x20 | 0x10 | 2) + csrcs + extension + b"voice" + b"\x00\x00\x03"
    packet = rtp.parse(data)
    assert packet is not None and packet.payload == b"voice"


def test_malformed_packets_are_refused() -> None:
    """Too short, another version, an extension or padding longer than the packet: None."""
    assert rtp.parse(b"\x80" * 11) is None
    assert rtp.parse(header(flags=0x40) + b"x") is None  # version 1
    assert rtp.parse(header(flags=0x80 | 0x10)) is None  # extension header missing
    too_long = struct.pack("!HH", 0xBEDE, 10)
    assert rtp.parse(header(flags=0x80 | 0x10) + too_long) is None
    assert rtp.parse(header(flags=0x80 | 0x20) + b"ab\x09") is None  # 9 bytes of padding
    assert rtp.parse(header(flags=0x80 | 3) + b"\x00" * 8) is None  # 3 CSRCs, room for 2


def test_rtcp_is_told_apart_from_rtp() -> None:
    """RTCP packet types 192-223 in the second byte are not RTP (RFC 5761)."""
    assert not rtp.is_rtp(bytes([0x80, 200]) + b"\x00" * 10)
    assert not rtp.is_rtp(b"\x16\xfe\xfd" + b"\x00" * 10)  # DTLS
    assert not rtp.is_rtp(header()[:11])


def test_sequence_numbers_wrap_around() -> None:
    """65535 is followed by 0; half the number space ahead counts as newer, not behind."""
    assert rtp.newer(8, 7) and not rtp.newer(7, 8) and not rtp.newer(7, 7)
    assert rtp.newer(0, 65535) and not rtp.newer(65535, 0)
    assert rtp.newer(0x7FFF, 0) and not rtp.newer(0x8000, 0)
