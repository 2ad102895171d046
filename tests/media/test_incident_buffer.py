"""The incident buffer on plain data: its window, its encryption and its timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag

from townhall.media.codec import FRAME_SAMPLES, RATE
from townhall.media.incident import RoomBuffer, decode_chunk
from townhall.media.sealed import build_timeline


def buffer(keep: int = 10, chunk: int = 2) -> RoomBuffer:
    return RoomBuffer("room1", keep, chunk, 20, 200, lambda: datetime(2026, 3, 1, tzinfo=UTC))


def play(b: RoomBuffer, seconds: float, payload: bytes | None = b"x" * 80) -> None:
    for i in range(int(seconds * RATE) // FRAME_SAMPLES):
        b.audio(payload, FRAME_SAMPLES)
        if i % 10 == 9:
            b.levels({"ann": 0.8} if payload else {})


def test_the_buffer_keeps_the_last_window_and_no_more() -> None:
    """Memory stays bounded: an hour of speech leaves only the last keep seconds or so."""
    b = buffer(keep=10, chunk=2)
    play(b, 3600)
    assert 10 <= b.seconds_held <= 12
    # 80-byte packets every 20 ms: about 4 kB per second of audio, plus framing.
    assert b.bytes_held < 12 * 50 * (80 + 6) + 6 * 2048


def test_silence_costs_next_to_nothing() -> None:
    """Held-back silence advances time without packets."""
    b = buffer(keep=10, chunk=2)
    play(b, 60, payload=None)
    assert b.bytes_held < 6 * 1024


def test_a_chunk_opens_only_in_its_own_room_and_place() -> None:
    """AES-GCM with the room and the index bound: a chunk moved elsewhere fails."""
    b = buffer()
    b.stage({"ann": False})
    play(b, 4)
    written: list[tuple[int, bytes]] = []
    earlier = b.seal("i1", lambda index, sealed: written.append((index, sealed)))
    assert [i for i, _ in earlier] == [0, 1]
    assert b.key is not None
    head, packets = decode_chunk(b.key.decrypt(1, earlier[1][1]))
    assert head["index"] == 1 and len(packets) == 100
    with pytest.raises(InvalidTag):
        b.key.decrypt(0, earlier[1][1])
    play(b, 1)
    b.close()
    assert [i for i, _ in written] == [2]  # the last, partial chunk is handed over at the end
    assert b.key is None and b.bytes_held == 0


def test_the_timeline_names_who_was_on_stage_unmuted_and_speaking() -> None:
    """Stage and mute changes and levels become intervals in seconds into the audio."""
    b = buffer(keep=60)
    b.stage({"ann": True, "mod": True})
    play(b, 1, payload=None)
    b.stage({"ann": False, "mod": True})
    play(b, 2)
    b.stage({"mod": True})
    play(b, 1, payload=None)
    assert b.key is not None
    chunks = []
    key = b.key
    earlier = b.seal(
        "i1", lambda index, sealed: chunks.append(decode_chunk(key.decrypt(index, sealed)))
    )
    chunks += [decode_chunk(key.decrypt(index, sealed)) for index, sealed in earlier]
    b.close()
    chunks.sort(key=lambda c: c[0]["start"])
    timeline = build_timeline(chunks)
    assert timeline["seconds"] == 4.0
    assert timeline["unmuted"] == [{"username": "ann", "from": 1.0, "to": 3.0}]
    assert {"username": "ann", "from": 0.0, "to": 3.0} in timeline["stage"]
    assert {"username": "mod", "from": 0.0, "to": 4.0} in timeline["stage"]
    assert [s["username"] for s in timeline["speaking"]] == ["ann"]
    spoke = timeline["speaking"][0]
    assert 1.0 <= spoke["from"] < spoke["to"] <= 3.0
