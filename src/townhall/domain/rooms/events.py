"""The wire forms of room events and personal notices, and the outbox that holds them
until their transaction commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from townhall.bus import channels
from townhall.domain.happenings import Happening
from townhall.storage.models import RoomEvent


def visible_to(audience: dict[str, Any] | None, role: str | None, username: str) -> bool:
    """May someone with ``role`` in the room (None: not in it) see an event for ``audience``?"""
    if audience is None:
        return True
    return (role is not None and role in audience.get("roles", [])) or username in audience.get(
        "users", []
    )


def event_payload(event: RoomEvent) -> str:
    """The wire form of a stored room event, serialised once for every recipient."""
    return channels.room_event(
        event.room_id, event.seq, event.name, event.data, event.audience, event.created_at
    )


@dataclass
class Outbox:
    """What a transaction will publish once it has committed."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    happenings: list[Happening] = field(default_factory=list)
    """Told to the process's listeners (notifications, hallway) after the commit."""
    hallway: bool = False
    """Something the hallway shows changed: a room started or ended, or who is in it."""

    def add(self, channel: str, payload: str) -> None:
        self.messages.append((channel, payload))
