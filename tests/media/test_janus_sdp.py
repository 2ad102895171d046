"""The listener relay's two answers, on plain text (no Janus, no sockets)."""

from __future__ import annotations

import pytest

from townhall.errors import InvalidInput
from townhall.media.janus import forward, sdp

CLIENT = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=audio 50000 UDP/TLS/RTP/SAVPF 96 0 8",
        "c=IN IP4 10.0.0.1",
        "a=mid:0",
        "a=recvonly",
        "a=rtcp-mux",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=candidate:1 1 udp 2130706431 10.0.0.1 50000 typ host",
        "a=end-of-candidates",
        "a=ice-ufrag:cuf",
        "a=ice-pwd:clientpassword",
        "a=fingerprint:sha-256 AA:BB",
        "a=fingerprint:sha-512 CC:DD",
        "a=setup:actpass",
        "",
    ]
)

JANUS = "\r\n".join(
    [
        "v=0",
        "o=- 77 1 IN IP4 10.0.0.2",
        "s=Mountpoint 77",
        "t=0 0",
        "a=group:BUNDLE a",
        "a=fingerprint:sha-256 EE:FF",
        "a=ice-lite",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 10.0.0.2",
        "a=sendonly",
        "a=mid:a",
        "a=rtcp-mux",
        "a=ice-ufrag:juf",
        "a=ice-pwd:januspassword",
        "a=setup:actpass",
        "a=rtpmap:96 opus/48000/2",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=msid:janus janusa",
        "a=ssrc:123 cname:janus",
        "a=candidate:1 1 udp 2015363327 10.0.0.2 25839 typ host",
        "a=end-of-candidates",
        "",
    ]
)


def lines(text: str) -> list[str]:
    return text.split("\r\n")


def test_the_client_gets_janus_transport_under_its_own_mid_and_payload_type() -> None:
    """The client's answer: Janus's ICE, DTLS and candidates, sending only, passive, lite."""
    answer = lines(sdp.answer_for_client(sdp.read_offer(CLIENT), sdp.parse(JANUS)))
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 96" in answer
    for line in (
        "a=mid:0",
        "a=group:BUNDLE 0",
        "a=sendonly",
        "a=ice-lite",
        "a=ice-ufrag:juf",
        "a=ice-pwd:januspassword",
        "a=fingerprint:sha-256 EE:FF",
        "a=setup:passive",
        "a=ssrc:123 cname:janus",
        "a=candidate:1 1 udp 2015363327 10.0.0.2 25839 typ host",
    ):
        assert line in answer
    assert not [x for x in answer if x.startswith("a=extmap")]
    assert "cuf" not in "".join(answer)


def test_janus_gets_the_client_transport_as_the_active_side() -> None:
    """Janus's answer: the client's ICE, both fingerprints and candidates, receiving only."""
    answer = lines(sdp.answer_for_janus(sdp.parse(JANUS), sdp.read_offer(CLIENT)))
    for line in (
        "a=mid:a",
        "a=recvonly",
        "a=ice-ufrag:cuf",
        "a=ice-pwd:clientpassword",
        "a=fingerprint:sha-256 AA:BB",
        "a=fingerprint:sha-512 CC:DD",
        "a=setup:active",
        "a=rtpmap:96 opus/48000/2",
        "a=candidate:1 1 udp 2130706431 10.0.0.1 50000 typ host",
        "a=end-of-candidates",
    ):
        assert line in answer
    assert "a=ice-lite" not in answer


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hello", "invalid_sdp"),
        ("v=0\r\ns=-\r\n", "sdp_not_one_audio"),
        (CLIENT.replace("a=rtpmap:96 opus/48000/2\r\n", ""), "sdp_no_opus"),
        (CLIENT.replace("a=recvonly", "a=sendonly"), "sdp_must_receive"),
        (CLIENT.replace("a=ice-pwd:clientpassword\r\n", ""), "invalid_sdp"),
    ],
)
def test_offers_are_checked_with_the_embedded_servers_codes(text: str, code: str) -> None:
    """An offer Janus could not take is refused with the same codes as the embedded server."""
    with pytest.raises(InvalidInput) as caught:
        sdp.read_offer(text)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("toc", "samples"),
    [
        (bytes([0x78, 0]), 960),
        (bytes([0x08]), 960),
        (bytes([0x79]), 1920),
        (bytes([0x7B, 3]), 2880),
    ],
)
def test_opus_packet_lengths_come_from_the_toc_byte(toc: bytes, samples: int) -> None:
    """CELT 20 ms, SILK 20 ms, two frames, and a code-3 packet of three frames."""
    assert forward.opus_samples(toc) == samples
