"""Sans-I/O: who may see a room event, the one rule behind the log replay and live streams."""

from __future__ import annotations

from townhall.domain.rooms.events import Audience, visible_to

PRIVATE = Audience(roles=frozenset({"moderator"}), users=frozenset({"bo"}))


def test_an_event_without_audience_is_for_everyone() -> None:
    """No audience: anyone, in the room or not, may see it."""
    assert visible_to(None, None, "anyone")
    assert visible_to(None, "listener", "anyone")


def test_an_audience_admits_its_roles_and_its_people() -> None:
    """A listed role or a listed username is enough; anyone else is left out."""
    assert visible_to(PRIVATE, "moderator", "mo")
    assert visible_to(PRIVATE, "listener", "bo")
    assert visible_to(PRIVATE, None, "bo")
    assert not visible_to(PRIVATE, "speaker", "sam")
    assert not visible_to(PRIVATE, None, "sam")


def test_audiences_round_trip_through_their_stored_form() -> None:
    """The stored and wire form reads back as the same audience; junk entries are dropped."""
    assert Audience.of(PRIVATE.as_json()) == PRIVATE
    assert Audience.of(None) is None
    assert Audience.of({"roles": ["moderator", 3], "users": None}) == Audience(
        roles=frozenset({"moderator"})
    )
