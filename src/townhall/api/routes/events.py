"""S7 scheduled events over HTTP: schedule, edit, cancel, remind me, start, lists, share
link, the iCalendar file of an event and the private calendar feed."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from townhall.api.contract import from_settings
from townhall.api.deps import ContainerDep, MemberDep, OptionalUserDep, UserDep
from townhall.api.pagination import Page, PageRequest, page_body, page_request
from townhall.api.routes.rooms import AcceptLanguage, SnapshotOut, snapshot_out
from townhall.api.schemas import MAX_ID, Lax, OkOut, Out, Strict, UserRef, WallClock
from townhall.api.share import Card, join_button, nowhere, public_page, words_for
from townhall.domain import events as rules
from townhall.domain.events import EventInput, EventView
from townhall.errors import NotFound, TownhallError

router = APIRouter(tags=["events"])
pages = APIRouter(include_in_schema=False)

EventId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="An event's public id (random; as in its `id` and its share link).",
    ),
]
ICS = "text/calendar; charset=utf-8"
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{22}")


ZONES: dict[str, Any] = {
    "pattern": "^(?:"
    + "|".join(re.sub(r"([.+])", r"\\\1", z) for z in sorted(available_timezones()))
    + ")$"
}
"""The IANA zones this server knows, as the document states them (a pattern, not an enum: a
client generated from the document needs no type of six hundred members); another name is
the domain's unknown_time_zone."""


COHOSTS = from_settings(maxItems="event_max_cohosts")
"""More co-hosts than the setting is the domain's too_many_cohosts."""


class EventIn(Strict):
    name: str = Field(max_length=rules.NAME_MAX * 2)
    description: str = Field("", max_length=rules.DESCRIPTION_MAX * 2)
    starts_at: Annotated[datetime, Lax] = Field(
        description="Wall-clock start in `time_zone` (e.g. 2026-03-05T18:30); "
        "a time with an offset is converted."
    )
    time_zone: str = Field(
        max_length=64, description="An IANA zone, e.g. Europe/Paris.", json_schema_extra=ZONES
    )
    cohosts: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=50,
        description="Usernames of the co-hosts, at most `event_max_cohosts`.",
        json_schema_extra=COHOSTS,
    )
    club: int | None = Field(None, ge=1, le=MAX_ID, description="Schedule it for this club.")
    members_only: bool = False


class EventEditIn(Strict):
    """Fields left out stay as they are; ``cohosts`` replaces the list."""

    name: str | None = Field(None, max_length=rules.NAME_MAX * 2)
    description: str | None = Field(None, max_length=rules.DESCRIPTION_MAX * 2)
    starts_at: Annotated[datetime, Lax] | None = None
    time_zone: str | None = Field(None, max_length=64, json_schema_extra=ZONES)
    cohosts: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=50, json_schema_extra=COHOSTS
    )
    members_only: bool | None = None


class ClubRefOut(Out):
    id: int
    name: str


class EventPreviewOut(Out):
    """What anyone with the share link sees, signed in or not."""

    id: str = Field(description="The public id, random: events are not numbered outside.")
    name: str
    description: str
    starts_at: datetime = Field(description="In UTC.")
    local_start: WallClock = Field(description="Wall-clock start in `time_zone`.")
    time_zone: str
    club: ClubRefOut | None
    members_only: bool
    status: Literal["scheduled", "started", "cancelled"]
    room_id: str | None = Field(description="The room, once a host has started the event.")
    url: str
    hosts: list[UserRef]


class EventOut(EventPreviewOut):
    invited: list[UserRef] = Field(
        description="Co-hosts asked who have not answered (shown to the creator only)."
    )
    reminded: bool = Field(description="You asked to be told when it starts.")
    is_host: bool
    invitation: bool = Field(description="You are asked to co-host and have not answered.")


class FeedOut(BaseModel):
    active: bool
    created_at: datetime | None


class NewFeedOut(BaseModel):
    url: str = Field(description="Private: anyone with it sees your events. Shown only once.")


def event_out(view: EventView) -> EventOut:
    return EventOut.model_validate(view)


def _input(body: EventIn | EventEditIn) -> EventInput:
    return EventInput(
        name=body.name,
        description=body.description,
        starts_at=body.starts_at,
        time_zone=body.time_zone,
        cohosts=body.cohosts,
        club_id=body.club if isinstance(body, EventIn) else None,
        members_only=body.members_only,
    )


ByStart = page_request(datetime, str)


@router.post("/api/events", status_code=201, response_model=EventOut)
async def schedule_event(body: EventIn, user: MemberDep, container: ContainerDep) -> Any:
    """Schedule an event; followers of its hosts and club are told."""
    return event_out(await container.events.create(user, _input(body)))


@router.get("/api/events/upcoming", response_model=Page[EventOut])
async def upcoming_events(
    user: UserDep, container: ContainerDep, page: PageRequest = ByStart
) -> Page[EventOut]:
    """Upcoming for you: events of people and clubs you follow, and the ones you host."""
    views, next_key = await container.events.upcoming_page(user.id, page.after, page.limit)
    return page_body([event_out(v) for v in views], next_key)


@router.get("/api/events/mine", response_model=Page[EventOut])
async def my_events(
    user: UserDep, container: ContainerDep, page: PageRequest = ByStart
) -> Page[EventOut]:
    """My events: the ones you host or asked to be reminded of."""
    views, next_key = await container.events.mine(user, page.after, page.limit)
    return page_body([event_out(v) for v in views], next_key)


@router.get("/api/events/{event_id}", response_model=EventOut)
async def get_event(event_id: EventId, viewer: OptionalUserDep, container: ContainerDep) -> Any:
    return event_out(await container.events.get(viewer, event_id))


@router.get("/api/events/{event_id}/preview", response_model=EventPreviewOut)
async def event_preview(event_id: EventId, container: ContainerDep) -> Any:
    """The public preview behind the share link."""
    return EventPreviewOut.model_validate(await container.events.get(None, event_id))


@router.patch("/api/events/{event_id}", response_model=EventOut)
async def edit_event(
    event_id: EventId, body: EventEditIn, user: UserDep, container: ContainerDep
) -> Any:
    """Change an event that has not started (the person who scheduled it)."""
    return event_out(await container.events.edit(user, event_id, _input(body)))


@router.post("/api/events/{event_id}/cohost/accept", response_model=EventOut)
async def accept_cohosting(event_id: EventId, user: MemberDep, container: ContainerDep) -> Any:
    """Accept the invitation to co-host: you are listed as a host and may start the event."""
    return event_out(await container.events.answer(user, event_id, True))


@router.post("/api/events/{event_id}/cohost/decline", response_model=EventOut)
async def decline_cohosting(event_id: EventId, user: UserDep, container: ContainerDep) -> Any:
    """Decline the invitation to co-host (or step down as a co-host); final for this event."""
    return event_out(await container.events.answer(user, event_id, False))


@router.post("/api/events/{event_id}/cancel", response_model=EventOut)
async def cancel_event(event_id: EventId, user: UserDep, container: ContainerDep) -> Any:
    """Cancel an event that has neither started nor passed."""
    return event_out(await container.events.cancel(user, event_id))


@router.put("/api/events/{event_id}/reminder", response_model=EventOut)
async def remind_me(event_id: EventId, user: MemberDep, container: ContainerDep) -> Any:
    """Be told when the event starts."""
    return event_out(await container.events.remind(user, event_id, True))


@router.delete("/api/events/{event_id}/reminder", response_model=EventOut)
async def do_not_remind_me(event_id: EventId, user: MemberDep, container: ContainerDep) -> Any:
    return event_out(await container.events.remind(user, event_id, False))


@router.post("/api/events/{event_id}/start", status_code=201, response_model=SnapshotOut)
async def start_event(event_id: EventId, user: MemberDep, container: ContainerDep) -> Any:
    """Open the event's room (a host); you are its first moderator."""
    return snapshot_out(await container.events.start(user, event_id))


@router.get(
    "/api/events/{event_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def event_calendar(event_id: EventId, container: ContainerDep) -> Response:
    """The event as an iCalendar file, to add to a calendar."""
    body = await container.events.calendar_file(event_id)
    return Response(
        body,
        media_type=ICS,
        headers={"Content-Disposition": f'attachment; filename="townhall-event-{event_id}.ics"'},
    )


@router.get("/api/me/calendar-feed", response_model=FeedOut)
async def calendar_feed_status(user: UserDep, container: ContainerDep) -> FeedOut:
    """Whether you have a private calendar feed address, and since when."""
    created = await container.events.feed_created_at(user)
    return FeedOut(active=created is not None, created_at=created)


@router.post("/api/me/calendar-feed", status_code=201, response_model=NewFeedOut)
async def new_calendar_feed(user: UserDep, container: ContainerDep) -> NewFeedOut:
    """A new private feed address of your events; the previous one stops working."""
    token = await container.events.new_feed(user)
    return NewFeedOut(url=f"{container.settings.resolved_public_url}/calendar/{token}.ics")


@router.delete("/api/me/calendar-feed", response_model=OkOut)
async def revoke_calendar_feed(user: UserDep, container: ContainerDep) -> OkOut:
    """Revoke your feed address: calendars using it stop receiving your events."""
    await container.events.revoke_feed(user)
    return OkOut()


@pages.get("/calendar/{token}.ics")
async def calendar_feed(token: str, container: ContainerDep) -> Response:
    """A person's private calendar feed (the address is the secret)."""
    if not TOKEN.fullmatch(token):
        raise NotFound("calendar_feed_not_found", "This calendar address does not exist.")
    body = await container.events.feed(token)
    return Response(body, media_type=ICS, headers={"Cache-Control": "private, no-store"})


@pages.get("/e/{event_id}", response_class=HTMLResponse)
async def share_page(
    event_id: str, container: ContainerDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    """The share link of an event: a public preview, the calendar file and a way to sign in
    that comes back to the event, in the visitor's language."""
    words = words_for(accept_language)
    public_url = container.settings.resolved_public_url
    missing = nowhere(words, public_url, f"/e/{event_id[:22]}")
    if not PUBLIC_ID.fullmatch(event_id):
        return missing
    try:
        v = await container.events.get(None, event_id)
    except TownhallError:
        return missing
    hosts = "".join(
        f'<li><span dir="auto">{escape(u.display_name or u.username)}</span> '
        f'<span class="muted" dir="ltr">@{escape(u.username)}</span></li>\n'
        for u in v.hosts
    )
    # Wall-clock time in the event's own zone, 24-hour: the same in every language.
    when = f"{v.local_start.isoformat(timespec='minutes').replace('T', ' ')} ({v.time_zone})"
    body = f'<h1 dir="auto">{escape(v.name)}</h1>\n<p class="when" dir="ltr">{escape(when)}</p>\n'
    if v.club:
        body += f'<p class="club" dir="auto">{escape(v.club.name)}</p>\n'
    if v.description:
        body += f'<p dir="auto">{escape(v.description)}</p>\n'
    body += f'<h2>{escape(words.t("event.hosts"))}</h2>\n<ul class="hosts">\n{hosts}</ul>\n'
    if v.status == "cancelled":
        body += f"<p>{escape(words.t('share.event_cancelled'))}</p>\n"
    elif v.status == "started":
        body += f'<p class="badge live">{escape(words.t("share.live"))}</p>\n'
    body += (
        f'<p><a class="button secondary" href="/api/events/{v.id}/calendar.ics">'
        f"{escape(words.t('event.add_to_calendar'))}</a></p>\n"
    )
    body += join_button(words, f"/event/{v.id}")
    description = v.description or when
    card = Card(v.name, description, f"{public_url}/e/{v.id}")
    return public_page(words, card, body, public_url)
