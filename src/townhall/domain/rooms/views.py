"""What the rooms service hands out: a room's snapshot, its members, its preview and its
events, as typed views. The API turns them into JSON, the same for HTTP and the WebSocket;
the data of room events is written once, from the same views (``member_data``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from townhall.domain.views import PersonView, StagePersonView, file_url
from townhall.storage.models import RoomMember, User
from townhall.storage.rooms import MemberRow


@dataclass(frozen=True)
class MemberView(PersonView):
    """Someone in a room, on stage or in the audience."""

    role: str
    muted: bool
    away: bool
    """Their connection dropped; they may come back."""
    group: str | None
    """For listeners: ``followed_by_speakers`` or ``others``; None on stage."""
    verified: bool = False
    """Staff marked theirs a notable account."""
    shield: bool = False
    """Many of the people the viewer follows blocked them (docs/safety.md); per viewer."""


def member_view(
    m: RoomMember, u: User, group: str | None = None, shield: bool = False
) -> MemberView:
    return row_view(MemberRow.of(m, u), group, shield)


def row_view(r: MemberRow, group: str | None = None, shield: bool = False) -> MemberView:
    return MemberView(
        username=r.username,
        display_name=r.display_name,
        avatar_url=file_url(r.avatar),
        role=r.role,
        muted=r.muted,
        away=r.away,
        group=group if r.role == "listener" else None,
        verified=r.verified,
        shield=shield,
    )


def member_data(m: RoomMember, u: User, group: str | None = None) -> dict[str, Any]:
    """A member inside the data of a room event (``member.joined``, ``member.updated``).
    Without ``shield``: an event goes to everyone alike, and the shield is per viewer."""
    data = asdict(member_view(m, u, group))
    del data["shield"]
    return data


def stage_person(m: RoomMember, u: User) -> StagePersonView:
    return StagePersonView(u.username, u.display_name, file_url(u.avatar), m.role)


@dataclass(frozen=True)
class MeInRoom:
    """The viewer's own place in the room."""

    role: str
    muted: bool
    hand_raised: bool
    invited_to_speak: bool


@dataclass(frozen=True)
class RoomSnapshot:
    """The whole state of a room as one viewer may see it; ``seq`` is its last event."""

    id: str
    title: str
    kind: str
    hand_raise: str
    club_id: int | None
    members_only: bool
    status: str
    seq: int
    created_at: datetime
    stage: tuple[MemberView, ...]
    audience: tuple[MemberView, ...]
    """The first ``room_snapshot_audience`` listeners to come in, plus the viewer."""
    listeners: int
    hands: tuple[str, ...] | None
    """Usernames in the order hands went up; None for all but moderators."""
    me: MeInRoom | None
    """None for a viewer outside the room."""


@dataclass(frozen=True)
class RoomPreview:
    """What a share link shows to anyone."""

    id: str
    title: str
    status: str
    stage: tuple[StagePersonView, ...]
    listeners: int


@dataclass(frozen=True)
class RoomEventView:
    """One numbered event of a room's log."""

    seq: int
    name: str
    data: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class CatchUp:
    """The events after a number that the viewer may see, or, when too many passed to
    replay, a fresh snapshot (exactly one of the two is set)."""

    events: tuple[RoomEventView, ...] | None = None
    snapshot: RoomSnapshot | None = None
