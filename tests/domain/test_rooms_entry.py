"""Who may enter a room, as the pure rule ``entry.may_enter`` over constructed facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from townhall.domain.clubs.rules import PERMISSIONS
from townhall.domain.rooms.entry import Facts, Refusal, bulk_facts, may_enter
from townhall.storage.hallway import LiveRoom


@dataclass(frozen=True)
class Room:
    kind: str = "open"
    members_only: bool = False
    ticketed: bool = False


def refusal(room: Room, **facts: object) -> str | None:
    out = may_enter(room, Facts(**facts))  # type: ignore[arg-type]
    return None if out is None else out.code


def test_open_rooms_let_anyone_in() -> None:
    """Nothing known about the person is needed to enter an open room."""
    assert refusal(Room()) is None


@pytest.mark.parametrize("kind", ["social", "closed"])
def test_creator_and_invited_enter_any_kind(kind: str) -> None:
    """The creator and the invited enter social and closed rooms; nobody else by default."""
    assert refusal(Room(kind)) == "room_not_open_to_you"
    assert refusal(Room(kind), creator=True) is None
    assert refusal(Room(kind), invited=True) is None


def test_being_followed_by_a_moderator_opens_only_social_rooms() -> None:
    """A moderator following you lets you into a social room, not into a closed one."""
    assert refusal(Room("social"), followed_by_moderator=True) is None
    assert refusal(Room("closed"), followed_by_moderator=True) == "room_not_open_to_you"


def test_the_refusal_names_the_kind() -> None:
    """The message says which kind of room refused and is a 403 to raise."""
    out = may_enter(Room("closed"), Facts())
    assert (
        isinstance(out, Refusal) and out.message == "This room is closed; you need an invitation."
    )


def test_a_ban_comes_first_then_a_block_then_the_club() -> None:
    """With every obstacle at once the ban is named; without it the block; then the club."""
    room = Room("closed", members_only=True)
    everything = {"banned": True, "blocked_by_moderator": True}
    assert refusal(room, **everything) == "removed_from_room"
    assert refusal(room, blocked_by_moderator=True) == "blocked_by_moderator"
    assert refusal(room) == "club_members_only"


def test_neither_creating_nor_an_invitation_gets_around_a_ban_or_block() -> None:
    """Bans and blocks refuse even the room's creator and the invited, in an open room."""
    for way_in in ({"creator": True}, {"invited": True}, {"followed_by_moderator": True}):
        assert refusal(Room(), banned=True, **way_in) == "removed_from_room"
        assert refusal(Room(), blocked_by_moderator=True, **way_in) == "blocked_by_moderator"


@pytest.mark.parametrize("role", [None, *PERMISSIONS])
def test_members_only_rooms_follow_the_club_role_table(role: str | None) -> None:
    """Exactly the club roles the table allows ``members_only`` enter; creating the room or
    being invited does not stand in for them."""
    allowed = "members_only" in PERMISSIONS[role or "visitor"]
    for way_in in ({}, {"creator": True}, {"invited": True}):
        got = refusal(Room(members_only=True), club_role=role, **way_in)
        assert got == (None if allowed else "club_members_only")


def test_the_kind_still_applies_to_club_members() -> None:
    """A member of the club still needs an invitation into a closed members-only room."""
    room = Room("closed", members_only=True)
    assert refusal(room, club_role="member") == "room_not_open_to_you"
    assert refusal(room, club_role="member", invited=True) is None


def test_someone_inside_stays_whatever_changed() -> None:
    """A person in the room is never refused: the rule is about coming in."""
    room = Room("closed", members_only=True)
    assert refusal(room, inside=True, banned=True, blocked_by_moderator=True) is None


def test_a_ticketed_events_room_needs_a_ticket_or_hosting_it() -> None:
    """Ticket holders, the event's hosts and the room's opener come in; an invitation or
    an open kind is not enough; a ban still beats a ticket."""
    room = Room("open", ticketed=True)
    assert refusal(room) == "ticket_required"
    assert refusal(room, invited=True) == "ticket_required"
    assert refusal(room, ticket=True) is None
    assert refusal(room, hosts=True) is None
    assert refusal(room, creator=True) is None
    assert refusal(room, ticket=True, banned=True) == "removed_from_room"
    assert refusal(Room("closed", ticketed=True), ticket=True) == "room_not_open_to_you"


def test_bulk_facts_pick_one_rooms_row_out_of_every_rooms() -> None:
    """The facts read for all rooms at once give, for one room, what that room holds."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    room = LiveRoom("r", "", "social", 7, True, 1, at, 0, 1, 0)
    standing = {
        "invited": {"r": 1},
        "moderator_follows": {"r": 1},
        "banned": {"other": 1},
        "topic": {"r": 3},
    }
    facts = bulk_facts(room, 1, standing, {7: "leader", 8: "member"})
    assert facts == Facts(
        club_role="leader", creator=True, invited=True, followed_by_moderator=True
    )
    assert bulk_facts(room, 2, {}, {8: "member"}) == Facts()
