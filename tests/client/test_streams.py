"""The resume bookkeeping of the live client, on plain messages (no sockets)."""

from __future__ import annotations

from typing import Any

from townhall.client.streams import RoomStreams


def event(seq: int, room: str = "r1", name: str = "member.updated") -> dict[str, Any]:
    return {"type": "event", "stream": f"room:{room}", "seq": seq, "name": name, "data": {}}


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in messages]


def test_events_already_seen_are_dropped() -> None:
    """After a subscription, an event numbered at or below the last one seen is not handed over."""
    streams = RoomStreams()
    streams.begin("r1", None)
    streams.subscribed("r1", {"events": [event(1), event(2)]})
    assert streams.event(event(2)) == []
    assert seqs(streams.event(event(3))) == [3]
    assert streams.seq == {"r1": 3}


def test_live_events_wait_for_the_resumed_backlog() -> None:
    """Live events that arrive while a room resumes come after its backlog, without repeats."""
    streams = RoomStreams()
    streams.begin("r1", None)
    streams.subscribed("r1", {"snapshot": {"id": "r1", "seq": 4}})
    assert streams.resuming("r1") == 4
    assert streams.event(event(7)) == []
    out = streams.subscribed("r1", {"events": [event(5), event(6), event(7)]})
    assert seqs(out) == [5, 6, 7]
    assert streams.seq["r1"] == 7


def test_a_snapshot_replaces_what_was_known() -> None:
    """A snapshot answer is handed over as the room's new state and sets its event number."""
    streams = RoomStreams()
    streams.begin("r1", 3)
    out = streams.subscribed("r1", {"snapshot": {"id": "r1", "seq": 40}})
    assert out == [{"type": "snapshot", "stream": "room:r1", "snapshot": {"id": "r1", "seq": 40}}]
    assert streams.event(event(39)) == []
    assert seqs(streams.event(event(41))) == [41]


def test_a_refused_resume_stops_following_the_room() -> None:
    """When resuming a room is refused, the room is no longer followed."""
    streams = RoomStreams()
    streams.begin("r1", 2)
    streams.failed("r1")
    assert streams.rooms() == []
    other = event(9, room="r2")
    assert streams.event(other) == [other]
