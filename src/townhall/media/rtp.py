"""The few bytes of RTP the media plane reads and writes itself (RFC 3550)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct("!BBHII")
"""Version 2, no padding, no extension, no CSRC: flags, marker|payload type, seq, ts, SSRC."""
VERSION_FLAGS = 0x80
MARKER = 0x80


def is_rtp(data: bytes) -> bool:
    """An RTP (not RTCP) packet, by its first two bytes (RFC 5761 demultiplexing)."""
    return len(data) >= 12 and 127 < data[0] < 192 and not 192 <= data[1] <= 223


@dataclass(frozen=True)
class Packet:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse(data: bytes) -> Packet | None:
    """The header fields and payload of a decrypted RTP packet, or None if malformed."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    flags, marker_pt, sequence, timestamp, ssrc = HEADER.unpack_from(data)
    offset = 12 + 4 * (flags & 0x0F)
    if flags & 0x10:  # header extension: 4 bytes of profile and length, then the words
        if len(data) < offset + 4:
            return None
        words = struct.unpack_from("!H", data, offset + 2)[0]
        offset += 4 + 4 * words
    end = len(data)
    if flags & 0x20:  # padding: its length is the last byte
        end -= data[-1]
    if offset > end:
        return None
    return Packet(marker_pt & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]))


def newer(sequence: int, than: int) -> bool:
    """Is ``sequence`` after ``than``, with 16-bit wrap-around?"""
    return sequence != than and ((sequence - than) & 0xFFFF) < 0x8000
