"""``RoomStream``, the Sans-I/O ordering of one person's room events: gaps, holes, restarts,
filtering and the end of a stream, on plain data without sockets."""

from __future__ import annotations

import json
from typing import Any

from townhall.api.ws.protocol import RoomEvent, RoomStream, read_event

ROOM = "r1"


def ev(seq: int, name: str = "room.updated", audience: Any = None, **data: Any) -> RoomEvent:
    """A room event as the bus carries it (its documented wire form)."""
    text = json.dumps(
        {
            "type": "event",
            "stream": f"room:{ROOM}",
            "seq": seq,
            "name": name,
            "data": data,
            "audience": audience,
            "at": "2026-03-01T12:00:00+00:00",
        }
    )
    event = read_event(text)
    assert event is not None
    return event


def seqs(texts: list[str]) -> list[int]:
    return [json.loads(t)["seq"] for t in texts]


def started(role: str | None = "listener", seq: int = 0) -> RoomStream:
    stream = RoomStream(ROOM, "ada")
    stream.begin(seq, role, [])
    return stream


def test_live_events_before_the_start_wait_and_follow_it_in_order() -> None:
    """Events that arrive before the snapshot's number is known are held, then released
    in order, without those the snapshot already holds."""
    stream = RoomStream(ROOM, "ada")
    assert stream.offer(ev(3)).texts == []
    assert stream.offer(ev(2)).texts == []
    shown, out = stream.begin(1, "listener", [])
    assert shown == [] and seqs(out.texts) == [2, 3]
    assert stream.last_seq == 3


def test_missed_events_are_shown_then_live_ones_continue() -> None:
    """Missed events after the start come back as shown; duplicates of them are dropped."""
    stream = RoomStream(ROOM, "ada")
    stream.offer(ev(3))
    shown, out = stream.begin(1, "listener", [ev(1), ev(2), ev(3)])
    assert [e.seq for e in shown] == [2, 3]
    assert out.texts == []
    assert stream.offer(ev(3)).texts == []
    assert seqs(stream.offer(ev(4)).texts) == [4]


def test_a_gap_asks_for_the_missing_events_and_holds_later_ones() -> None:
    """A live event after a gap is held and the gap fetched; once fetched, all go in order."""
    stream = started()
    out = stream.offer(ev(3))
    assert out.texts == [] and out.fetch_after == 0
    assert stream.offer(ev(4)).texts == []  # still fetching: held too
    out = stream.caught_up([ev(1), ev(2)])
    assert seqs(out.texts) == [1, 2, 3, 4] and out.fetch_after is None
    assert stream.pending == {}


def test_a_hole_the_log_does_not_have_is_skipped() -> None:
    """When the fetched log lacks an event too, the stream moves past it instead of asking
    for it for ever."""
    stream = started()
    assert stream.offer(ev(3)).fetch_after == 0
    out = stream.caught_up([ev(1)])  # 2 is nowhere
    assert seqs(out.texts) == [1, 3] and out.fetch_after is None
    assert seqs(stream.offer(ev(4)).texts) == [4]


def test_a_restart_continues_from_the_snapshot_and_drops_what_it_holds() -> None:
    """After a gap too long to fetch, a fresh snapshot's number is the new start: held
    events it covers are dropped, later ones follow."""
    stream = started()
    stream.offer(ev(50))
    stream.offer(ev(60))
    out = stream.restart(59, "speaker")
    assert seqs(out.texts) == [60]
    assert stream.role == "speaker" and stream.last_seq == 60


def test_events_for_an_audience_reach_only_its_roles_and_users() -> None:
    """Hands go to moderators and the person named; a listener's stream skips the rest but
    still counts past them."""
    stream = started("listener")
    for_mods = {"roles": ["moderator"], "users": ["bob"]}
    for_ada = {"roles": ["moderator"], "users": ["ada"]}
    out = stream.offer(ev(1, "hand.raised", for_mods, username="bob"))
    assert out.texts == [] and stream.last_seq == 1
    assert seqs(stream.offer(ev(2, "speak.invited", for_ada, username="ada")).texts) == [2]


def test_role_changes_about_me_change_what_i_see() -> None:
    """Made a moderator, the same stream starts showing moderators' events."""
    stream = started("listener")
    stream.offer(ev(1, "member.updated", username="ada", role="moderator"))
    assert stream.role == "moderator"
    hand = ev(2, "hand.raised", {"roles": ["moderator"], "users": ["bob"]}, username="bob")
    assert seqs(stream.offer(hand).texts) == [2]
    stream.offer(ev(3, "member.updated", username="bob", role="speaker"))
    assert stream.role == "moderator"  # about someone else


def test_the_stream_ends_with_the_room_or_when_i_leave() -> None:
    """room.ended, and member.left naming me, are the last events the stream sends."""
    ended = started()
    out = ended.offer(ev(1, "room.ended", reason="empty"))
    assert seqs(out.texts) == [1] and out.ended and ended.ended
    assert ended.offer(ev(2)).texts == []

    left = started("speaker")
    left.offer(ev(2))  # held behind the gap
    out = left.caught_up([ev(1, "member.left", username="ada", reason="left")])
    assert seqs(out.texts) == [1] and out.ended
    assert left.role is None and left.pending == {}

    other = started()
    out = other.offer(ev(1, "member.left", username="bob", reason="left"))
    assert not out.ended and other.role == "listener"


def test_missed_events_after_the_end_are_not_shown() -> None:
    """Resuming a room that ended meanwhile shows the events up to its end, not after."""
    stream = RoomStream(ROOM, "ada")
    shown, out = stream.begin(0, "listener", [ev(1, "room.ended", reason="empty"), ev(2)])
    assert [e.seq for e in shown] == [1]
    assert out.ended
