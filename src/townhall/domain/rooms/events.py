"""The wire forms of room events and personal notices, and the outbox that holds them
until their transaction commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from townhall.bus import channels
from townhall.domain.happenings import Happening
from townhall.storage.models import RoomEvent


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may see a room event besides everyone: the people whose *current* role in the
    room is in ``roles`` and the people named in ``users``. An event without an audience
    is for everyone in the room."""

    roles: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> Audience | None:
        """From the stored and wire form ``{"roles": [...], "users": [...]}``."""
        if raw is None:
            return None
        roles, users = raw.get("roles") or (), raw.get("users") or ()
        return cls(
            frozenset(r for r in roles if isinstance(r, str)),
            frozenset(u for u in users if isinstance(u, str)),
        )

    def as_json(self) -> dict[str, list[str]]:
        return {"roles": sorted(self.roles), "users": sorted(self.users)}


def visible_to(audience: Audience | None, role: str | None, username: str) -> bool:
    """May ``username``, with ``role`` in the room (None: not in it), see an event for
    ``audience``? The one rule for replaying the log and for live streams alike."""
    if audience is None:
        return True
    return username in audience.users or (role is not None and role in audience.roles)


def event_payload(event: RoomEvent) -> str:
    """The wire form of a stored room event, serialised once for every recipient."""
    return channels.room_event(
        event.room_id, event.seq, event.name, event.data, event.audience, event.created_at
    )


@dataclass
class Outbox:
    """What a transaction will publish once it has committed (its bus messages), and the
    happenings it records for the durable outbox (``domain/outbox.py``)."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)
    """Recorded in the outbox at the end of the transaction, told once it has committed."""
    hallway: bool = False
    """Something the hallway shows changed: a room started or ended, or who is on stage."""
    audience: bool = False
    """Only who listens changed: the hallway's counts are stale, but that is worth no hint
    to every socket (docs/hallway.md, "Live updates")."""

    def add(self, channel: str, payload: str) -> None:
        self.messages.append((channel, payload))
