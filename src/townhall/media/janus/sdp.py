"""The offer/answer relay between a client's one PeerConnection and Janus, on plain text.

Every client makes the offer (docs/voice.md). Janus's AudioBridge answers offers, so a
person who sends goes there unchanged. Janus's Streaming plugin only makes offers, so for a
listener Townhall stands in the middle of two exchanges that are really one: the client's
offer and the mountpoint's offer are each turned into the answer the other side expects.
Both answers carry the other side's ICE credentials, candidates and DTLS fingerprint, so
the client and Janus then talk directly, as if one had answered the other:

- ICE: Janus runs ICE-lite (required, docs/voice.md), so the client, a full agent, is the
  controlling one for both of them, whoever believes it offered.
- DTLS: the client is told Janus is ``passive`` and Janus is told the client is ``active``:
  the client is the DTLS client either way.
- Media: one Opus stream under the client's own payload type (a mountpoint is made per
  payload type for this reason), no header extensions, no feedback: plain Opus.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from townhall.errors import InvalidInput
from townhall.media.backend import MAX_SDP_CHARS

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass
class Description:
    """What the relay reads of one side's session description (one audio section)."""

    session: list[str]
    """Session-level lines, before the first ``m=``."""
    media: list[list[str]]
    """Each media section's lines, its ``m=`` line first."""
    kind: str = ""
    mid: str = ""
    direction: str = "sendrecv"
    ufrag: str = ""
    pwd: str = ""
    fingerprints: list[str] = field(default_factory=list)
    """Its DTLS fingerprints (``sha-256 AB:...``); aiortc sends several hashes."""
    setup: str = ""
    lite: bool = False
    candidates: list[str] = field(default_factory=list)
    """``a=candidate:...`` lines."""
    ended: bool = False
    """It said ``a=end-of-candidates``."""
    opus: int | None = None
    """The payload type it gives Opus."""
    fmtp: str = ""
    ssrc: list[str] = field(default_factory=list)
    """Its ``a=ssrc:`` and ``a=msid:`` lines."""
    connection: str = "c=IN IP4 0.0.0.0"
    port: str = "9"


def parse(text: str) -> Description:
    """Read a description: lines split, the first media section looked into."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    session: list[str] = []
    media: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    found = Description(session, media)
    for line in session:
        _read(found, line)
    if media:
        m = media[0][0][2:].split()
        found.kind = m[0] if m else ""
        found.port = m[1] if len(m) > 1 else "9"
        for line in media[0][1:]:
            _read(found, line)
    return found


def _read(found: Description, line: str) -> None:
    if line.startswith("c="):
        found.connection = line
        return
    if not line.startswith("a="):
        return
    name, _, value = line[2:].partition(":")
    if name == "mid":
        found.mid = value
    elif name in _DIRECTIONS:
        found.direction = name
    elif name == "ice-ufrag":
        found.ufrag = value
    elif name == "ice-pwd":
        found.pwd = value
    elif name == "fingerprint":
        found.fingerprints.append(value)
    elif name == "setup":
        found.setup = value
    elif name == "ice-lite":
        found.lite = True
    elif name == "candidate":
        found.candidates.append(line)
    elif name == "end-of-candidates":
        found.ended = True
    elif name == "rtpmap":
        pt, _, codec = value.partition(" ")
        if codec.lower().startswith("opus/48000") and found.opus is None:
            found.opus = int(pt)
    elif name == "fmtp":
        pt, _, params = value.partition(" ")
        if found.opus is not None and pt == str(found.opus):
            found.fmtp = params
    elif name in ("ssrc", "msid"):
        found.ssrc.append(line)


def read_offer(text: str) -> Description:
    """A client's offer, checked as the embedded backend checks it (same error codes)."""
    if len(text) > MAX_SDP_CHARS:
        raise InvalidInput("sdp_too_long", f"An offer has at most {MAX_SDP_CHARS} characters.")
    if not text.lstrip().startswith("v=0"):
        raise InvalidInput("invalid_sdp", "The offer is not a session description.")
    offer = parse(text)
    if len(offer.media) != 1 or offer.kind != "audio":
        raise InvalidInput("sdp_not_one_audio", "Offer exactly one audio stream.")
    if offer.opus is None:
        raise InvalidInput("sdp_no_opus", "The offer must include the Opus codec.")
    if offer.direction not in ("sendrecv", "recvonly"):
        raise InvalidInput("sdp_must_receive", "The offer must receive audio.")
    if not (offer.ufrag and offer.pwd and offer.fingerprints):
        raise InvalidInput(
            "invalid_sdp", "The offer could not be read: it lacks ICE credentials or DTLS."
        )
    return offer


def _head(origin: str, mid: str, lite: bool) -> list[str]:
    lines = ["v=0", origin, "s=-", "t=0 0", f"a=group:BUNDLE {mid}"]
    if lite:
        lines.append("a=ice-lite")
    return [*lines, "a=msid-semantic: WMS *"]


def _opus(pt: int, fmtp: str) -> list[str]:
    lines = [f"a=rtpmap:{pt} opus/48000/2"]
    return [*lines, f"a=fmtp:{pt} {fmtp}"] if fmtp else lines


def answer_for_client(offer: Description, janus: Description) -> str:
    """The client's answer: Janus's transport, sending only, under the client's mid and
    payload type (which the mountpoint was made with)."""
    assert offer.opus is not None
    origin = next((line for line in janus.session if line.startswith("o=")), "o=- 0 0 IN IP4 0")
    lines = _head(origin, offer.mid, janus.lite)
    lines += [
        f"m=audio {janus.port} UDP/TLS/RTP/SAVPF {offer.opus}",
        janus.connection,
        f"a=mid:{offer.mid}",
        "a=sendonly",
        "a=rtcp-mux",
        f"a=ice-ufrag:{janus.ufrag}",
        f"a=ice-pwd:{janus.pwd}",
        *(f"a=fingerprint:{f}" for f in janus.fingerprints),
        "a=setup:passive",
        *_opus(offer.opus, janus.fmtp),
        *janus.ssrc,
        *janus.candidates,
        "a=end-of-candidates",
    ]
    return "\r\n".join(lines) + "\r\n"


def answer_for_janus(janus: Description, offer: Description) -> str:
    """Janus's answer to its own offer: the client's transport, receiving only."""
    assert janus.opus is not None
    origin = f"o=- {secrets.randbelow(2**62)} 1 IN IP4 0.0.0.0"
    lines = _head(origin, janus.mid, False)
    lines += [
        f"m=audio 9 UDP/TLS/RTP/SAVPF {janus.opus}",
        "c=IN IP4 0.0.0.0",
        f"a=mid:{janus.mid}",
        "a=recvonly",
        "a=rtcp-mux",
        f"a=ice-ufrag:{offer.ufrag}",
        f"a=ice-pwd:{offer.pwd}",
        *(f"a=fingerprint:{f}" for f in offer.fingerprints),
        "a=setup:active",
        *_opus(janus.opus, ""),
        *offer.candidates,
    ]
    if offer.ended:
        lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"
