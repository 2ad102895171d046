"""The typed views the domain hands out that several areas share: a person, and a person
with a role on a stage. The API turns views into JSON (``townhall.api.wire``); the domain
itself writes JSON only into the data of room events and notifications, which are stored
as they were at the time, and builds those people with ``person_data``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from townhall.storage.models import User


def file_url(key: str | None) -> str | None:
    """Where a stored picture (avatar, club icon) is served; None when there is none."""
    return f"/files/{key}" if key else None


@dataclass(frozen=True)
class PersonView:
    """Someone as every list, stage, host line and notification shows them."""

    username: str
    display_name: str
    avatar_url: str | None

    @classmethod
    def of(cls, user: User) -> PersonView:
        return cls(user.username, user.display_name, file_url(user.avatar))


@dataclass(frozen=True)
class StagePersonView(PersonView):
    """Someone on a room's stage, as room cards, previews and the hallway show them."""

    role: str


def person_data(user: User) -> dict[str, Any]:
    """A person inside the data of a room event or a notification (the ``PersonView``
    fields, the same as the API's person)."""
    return asdict(PersonView.of(user))


@dataclass(frozen=True)
class RoomCard:
    """A live room in a list: the room list and the hallway."""

    id: str
    title: str
    kind: str
    stage: tuple[StagePersonView, ...]
    listeners: int
