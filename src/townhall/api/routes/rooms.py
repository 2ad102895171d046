"""S4 live rooms over HTTP: create, list, join, leave, commands, events, and the share link."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from townhall.api.deps import ContainerDep, MemberDep, UserDep
from townhall.api.pagination import PageRequest, page_body, page_request
from townhall.api.schemas import MAX_ID, IsoTime, Lax, OkOut, Out, Strict, UserRef
from townhall.api.share import Card, join_button, nowhere, public_page, words_for
from townhall.domain.rooms import rules
from townhall.domain.rooms.arguments import body_schema
from townhall.domain.rooms.commands import COMMANDS, NAME_MAX
from townhall.domain.rooms.views import RoomSnapshot
from townhall.errors import NotFound
from townhall.vocabulary import HandRaise, RoomKind, RoomRole, RoomStatus

AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]

router = APIRouter(tags=["rooms"])
pages = APIRouter(include_in_schema=False)

RoomId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="A room's id, as in its share link.")
]
ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
Kind = Annotated[RoomKind, Lax]
Role = RoomRole


class CreateRoomIn(Strict):
    title: str = Field("", max_length=rules.TITLE_MAX)
    kind: Kind = RoomKind.OPEN
    hand_raise: Annotated[HandRaise, Lax] = HandRaise.EVERYONE
    club: int | None = Field(None, ge=1, le=MAX_ID, description="Start the room in this club.")
    members_only: bool = Field(False, description="A club room for the club's members only.")


def _each_command(schema: dict[str, Any]) -> None:
    # The body is one of the registered commands with exactly its arguments.
    schema["oneOf"] = [body_schema(name, c.arguments) for name, c in sorted(COMMANDS.items())]


class CommandIn(BaseModel):
    """One room command and its own arguments; see docs/rooms.md for who may run which.
    The room service checks the arguments against the command's declaration, as for the
    WebSocket (``invalid_arguments``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_each_command)

    command: str = Field(max_length=NAME_MAX, description="One of the actions in docs/rooms.md.")

    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MemberOut(UserRef):
    role: Role
    muted: bool
    away: bool = Field(description="Their connection dropped; they may come back.")
    group: Literal["followed_by_speakers", "others"] | None = Field(
        description="For listeners: followed by someone on stage, or not. Null on stage."
    )
    verified: bool = Field(False, description="Staff marked this a notable account.")
    shield: bool = Field(
        False, description="Blocked by several of the people you follow (docs/safety.md)."
    )


class MeInRoomOut(Out):
    role: Role
    muted: bool
    hand_raised: bool
    invited_to_speak: bool


class SnapshotOut(Out):
    """The whole state of a room as the viewer may see it; ``seq`` is its last event."""

    id: str
    title: str
    kind: Kind
    hand_raise: HandRaise
    club_id: int | None = Field(None, description="The club whose room this is, if any.")
    members_only: bool = False
    status: RoomStatus
    seq: int
    created_at: IsoTime
    stage: list[MemberOut]
    audience: list[MemberOut]
    listeners: int
    hands: list[str] | None = Field(
        description="Raised hands in the order they went up; moderators only, else null."
    )
    me: MeInRoomOut | None = Field(description="The viewer's place in the room; null outside.")


class StagePersonOut(UserRef):
    role: Role


class RoomCardOut(Out):
    id: str
    title: str
    kind: Kind
    stage: list[StagePersonOut]
    listeners: int


class RoomListOut(Out):
    items: list[RoomCardOut]


class PreviewOut(Out):
    """What anyone with the share link sees, signed in or not."""

    id: str
    title: str
    status: RoomStatus
    stage: list[StagePersonOut]
    listeners: int


class RoomEventOut(Out):
    seq: int
    name: str
    data: dict[str, Any]
    at: IsoTime


class EventsOut(Out):
    """Either the events after ``after`` the viewer may see, or a fresh snapshot when the
    viewer is too far behind to replay them."""

    events: list[RoomEventOut] | None = None
    snapshot: SnapshotOut | None = None


def snapshot_out(view: RoomSnapshot) -> SnapshotOut:
    """A room's snapshot, as HTTP answers it and the WebSocket sends it (``as_json``)."""
    return SnapshotOut.model_validate(view)


@router.post("/api/rooms", status_code=201, response_model=SnapshotOut)
async def create_room(body: CreateRoomIn, user: MemberDep, container: ContainerDep) -> Any:
    """Open a room; you are its first moderator, on stage, muted."""
    return snapshot_out(
        await container.rooms.create(
            user, body.title, body.kind, body.hand_raise, body.club, body.members_only
        )
    )


@router.get("/api/rooms", response_model=RoomListOut)
async def live_rooms(
    user: UserDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    """Live rooms you may join or are in, newest first."""
    return RoomListOut(
        items=[RoomCardOut.model_validate(c) for c in await container.rooms.live(user, limit)]
    )


@router.get("/api/rooms/{room_id}", response_model=SnapshotOut)
async def room_snapshot(room_id: RoomId, user: UserDep, container: ContainerDep) -> Any:
    """The room's state as you may see it (you must be in it or allowed to join it)."""
    return snapshot_out(await container.rooms.snapshot(user, room_id))


@router.post("/api/rooms/{room_id}/join", response_model=SnapshotOut)
async def join_room(room_id: RoomId, user: MemberDep, container: ContainerDep) -> Any:
    """Enter the room, into the audience, muted; joining again keeps your place."""
    return snapshot_out(await container.rooms.join(user, room_id))


@router.post("/api/rooms/{room_id}/leave", response_model=OkOut)
async def leave_room(room_id: RoomId, user: UserDep, container: ContainerDep) -> OkOut:
    """Leave quietly."""
    await container.rooms.leave(user, room_id)
    return OkOut()


@router.post("/api/rooms/{room_id}/commands", response_model=OkOut)
async def room_command(
    room_id: RoomId, body: CommandIn, user: UserDep, container: ContainerDep
) -> OkOut:
    """Run one room command (raise a hand, invite to speak, mute, end, ...)."""
    await container.rooms.command(user, room_id, body.command, body.arguments())
    return OkOut()


@router.get(
    "/api/rooms/{room_id}/events", response_model=EventsOut, response_model_exclude_unset=True
)
async def room_events(
    room_id: RoomId,
    user: UserDep,
    container: ContainerDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Catch up: the events after ``after`` you may see, or a snapshot if too far behind."""
    found = await container.rooms.events_for(user, room_id, after)
    # Only the part given is sent; the snapshot keeps its nulls, as everywhere else.
    if found.snapshot is not None:
        return EventsOut(snapshot=snapshot_out(found.snapshot))
    return EventsOut(events=[RoomEventOut.model_validate(e) for e in found.events or ()])


class AudiencePageOut(Out):
    items: list[MemberOut]
    next_cursor: str | None


@router.get("/api/rooms/{room_id}/audience", response_model=AudiencePageOut)
async def room_audience(
    room_id: RoomId,
    user: UserDep,
    container: ContainerDep,
    page: PageRequest = page_request(datetime, int),
) -> Any:
    """The whole audience, page by page, in the order people came in."""
    members, next_key = await container.rooms.audience(user, room_id, page.after, page.limit)
    return page_body([MemberOut.model_validate(m) for m in members], next_key)


@router.get("/api/rooms/{room_id}/preview", response_model=PreviewOut)
async def room_preview(room_id: RoomId, container: ContainerDep) -> Any:
    """The public preview behind a share link: title, who is on stage, how many listen."""
    return PreviewOut.model_validate(await container.rooms.preview(room_id))


@pages.get("/r/{room_id}", response_class=HTMLResponse)
async def share_page(
    room_id: str, container: ContainerDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    """The share link of a room: a public preview and a way to sign in that comes back to
    the room, in the visitor's language (docs/web.md, *Share links*)."""
    words = words_for(accept_language)
    public_url = container.settings.resolved_public_url
    missing = nowhere(words, public_url, f"/r/{room_id[:16]}")
    if not ROOM_ID.fullmatch(room_id):
        return missing
    try:
        preview = await container.rooms.preview(room_id)
    except NotFound:
        return missing
    title = preview.title or words.t("room.untitled")
    names = [p.display_name or f"@{p.username}" for p in preview.stage]
    stage = "".join(
        f'<li><span dir="auto">{escape(p.display_name or p.username)}</span> '
        f'<span class="muted" dir="ltr">@{escape(p.username)}</span>'
        f"{' · ' + escape(words.t('room.moderator')) if p.role == 'moderator' else ''}</li>\n"
        for p in preview.stage
    )
    listening = words.tn("room.listeners", preview.listeners)
    if preview.status != "live":
        description = words.t("room.ended")
        body = f'<h1 dir="auto">{escape(title)}</h1>\n<p>{escape(description)}</p>\n'
        body += join_button(words, "/", "share.open_app")
    else:
        description = words.t(
            "share.room_description", names=", ".join(names[:4]) or "…", listening=listening
        )
        body = (
            f'<p class="badge live">{escape(words.t("share.live"))}</p>\n'
            f'<h1 dir="auto">{escape(title)}</h1>\n'
            f"<h2>{escape(words.t('share.on_stage'))}</h2>\n"
            f'<ul class="stage">\n{stage}</ul>\n'
            f'<p class="listeners">{escape(listening)}</p>\n'
        )
        body += join_button(words, f"/room/{preview.id}")
    card = Card(title, description, f"{public_url}/r/{preview.id}")
    return public_page(words, card, body, public_url)
