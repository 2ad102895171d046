"""Who may enter a room (S4, S7, S8): one pure rule over what is known about a person and a room.

``may_enter`` is the only place that decides it. Joining, reading a live room from outside
(snapshot, events, audience), the room list and the hallway all ask it, with ``Facts`` read
for one room (``storage.rooms.entry_facts``) or for every live room at once
(``storage.hallway.standing``); so a room is listed exactly when joining it would succeed.
The order of the checks, and so which refusal a person gets, is written in docs/rooms.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from townhall.domain.clubs import rules as club_rules
from townhall.errors import Forbidden
from townhall.storage.hallway import LiveRoom

FACT_NAMES = (
    "member",
    "banned",
    "blocked_by_moderator",
    "invited",
    "moderator_follows",
    "hosts",
    "ticket",
)
"""The names under which both readers report the facts that hold (``moderator_follows``
may be left out for rooms that are not social: only social rooms ask it)."""


class Terms(Protocol):
    """The room's side of the rule: a ``Room`` row or a ``LiveRoom`` read in bulk."""

    @property
    def kind(self) -> str: ...

    @property
    def members_only(self) -> bool: ...

    @property
    def ticketed(self) -> bool: ...


@dataclass(frozen=True)
class Facts:
    """How one person stands to one room, as far as entering it goes."""

    inside: bool = False
    """They are in the room already (entering again keeps their place)."""
    banned: bool = False
    """A moderator removed them from this room."""
    blocked_by_moderator: bool = False
    """A moderator in the room blocked them."""
    club_role: str | None = None
    """Their role in the room's club, None without one (or when the room has no club)."""
    creator: bool = False
    """They opened the room."""
    invited: bool = False
    """A moderator pinged them into the room."""
    followed_by_moderator: bool = False
    """A moderator in the room follows them."""
    hosts: bool = False
    """They host the scheduled event whose room this is."""
    ticket: bool = False
    """They hold a paid ticket to the room's event (S10)."""

    @classmethod
    def of(cls, held: Collection[str], club_role: str | None, creator: bool) -> Facts:
        """From the names in ``FACT_NAMES`` that hold, as the storage readers give them."""
        return cls(
            inside="member" in held,
            banned="banned" in held,
            blocked_by_moderator="blocked_by_moderator" in held,
            club_role=club_role,
            creator=creator,
            invited="invited" in held,
            followed_by_moderator="moderator_follows" in held,
            hosts="hosts" in held,
            ticket="ticket" in held,
        )


def bulk_facts(
    room: LiveRoom,
    user_id: int,
    standing: Mapping[str, Mapping[str, int]],
    club_roles: Mapping[int, str],
) -> Facts:
    """One room's facts out of the reads for every live room (``storage.hallway.standing``:
    fact → room id → n, and ``club_roles``: club id → role)."""
    held = {name for name in FACT_NAMES if room.id in standing.get(name, {})}
    role = club_roles.get(room.club_id) if room.club_id is not None else None
    return Facts.of(held, role, room.created_by_id == user_id)


class Refusal(Forbidden):
    """Why someone may not enter a room: a 403 with its stable code and message, returned
    by the rule for the caller to raise (or, for a list, to leave the room out)."""


def may_enter(room: Terms, facts: Facts) -> Refusal | None:
    """None when the person may enter the room, else the first reason they may not.

    Someone inside stays. Then, in this order: a ban, a block by a moderator, a club's
    members-only room (the club's role table decides, for everyone: creating the room gives
    no way around it), a ticketed event's room (a paid ticket, hosting it or having opened
    it), and last the room's kind (open; social: followed by a moderator; the creator and
    the invited into any kind)."""
    if facts.inside:
        return None
    if facts.banned:
        return Refusal("removed_from_room", "A moderator removed you from this room.")
    if facts.blocked_by_moderator:
        return Refusal("blocked_by_moderator", "You cannot join this room.")
    if room.members_only and not club_rules.may(facts.club_role, "members_only"):
        return Refusal("club_members_only", "This room is for the club's members only.")
    if room.ticketed and not (facts.ticket or facts.hosts or facts.creator):
        return Refusal("ticket_required", "This room is for ticket holders; buy a ticket first.")
    if room.kind == "open" or facts.creator or facts.invited:
        return None
    if room.kind == "social" and facts.followed_by_moderator:
        return None
    return Refusal("room_not_open_to_you", f"This room is {room.kind}; you need an invitation.")
