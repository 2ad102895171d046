"""Sans-I/O: bus channel names and the envelopes on them, built and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from townhall.bus import channels


def test_channel_names_read_back_as_what_built_them() -> None:
    """room:, levels: and user: names parse to their kind and key; shared ones do not."""
    assert channels.parse(channels.room("abc")) == ("room", "abc")
    assert channels.parse(channels.levels("abc")) == ("levels", "abc")
    assert channels.parse(channels.user(7)) == ("user", "7")
    for other in (channels.HALLWAY, channels.NOTIFICATIONS, "room:", "nope:x"):
        assert channels.parse(other) is None


def test_only_room_streams_name_a_room() -> None:
    """A wire stream names a room only when it is a room's channel."""
    assert channels.room_of("room:abc") == "abc"
    assert channels.room_of("levels:abc") is None
    assert channels.room_of("user:1") is None


def test_room_events_round_trip() -> None:
    """A room event's text reads back with its fields, and the text is kept as is."""
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    text = channels.room_event("abc", 4, "hand.raised", {"username": "bo"}, {"roles": []}, at)
    event = channels.read_room_event(text)
    assert event is not None
    assert (event.room, event.seq, event.name) == ("abc", 4, "hand.raised")
    assert event.data == {"username": "bo"}
    assert event.audience == {"roles": []}
    assert event.text == text
    assert json.loads(text)["at"] == at.isoformat()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"type": "event", "stream": "user:1", "seq": 1, "name": "x"}',
        '{"type": "event", "stream": "room:a", "name": "x"}',
        '{"type": "notice", "stream": "room:a", "seq": 1, "name": "x"}',
        channels.levels_event("a", {"bo": 0.5}),
    ],
)
def test_anything_else_is_not_a_room_event(text: str) -> None:
    """Malformed texts, other streams, unnumbered levels and notices are not room events."""
    assert channels.read_room_event(text) is None


def test_levels_keep_their_documented_shape() -> None:
    """Who is speaking goes out as the unnumbered audio.levels event of the room's stream."""
    assert json.loads(channels.levels_event("abc", {"bo": 0.25})) == {
        "type": "event",
        "name": "audio.levels",
        "stream": "room:abc",
        "data": {"levels": {"bo": 0.25}},
    }


def test_notices_and_addressed_messages_round_trip() -> None:
    """A notice and a many-recipient message read back as built; malformed ones are None."""
    notice = channels.read_notice(channels.notice("room.removed", {"room": "abc"}))
    assert notice is not None and (notice.name, notice.data) == ("room.removed", {"room": "abc"})
    assert channels.read_addressed(channels.addressed([1, 2], "hi")) == ([1, 2], "hi")
    assert channels.read_addressed('{"to": 1, "text": "hi"}') is None
    assert channels.read_notice("{}") is None
