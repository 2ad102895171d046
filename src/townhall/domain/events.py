"""S7 scheduled events: create, edit, cancel, remind-me, start the room, lists, calendars.

An event is a room booked in advance. Its creator edits and cancels it; any of its hosts
(the creator and up to ``event_max_cohosts`` co-hosts) starts its room, and hosts become
moderators when they join that room. A co-host is asked first: naming someone invites them
(``event.cohost_invited``), and until they accept they are not listed, not told to anyone as
a host, not in their own calendar, and have no host powers. Happenings are emitted after
each commit: ``event.scheduled``, ``event.cohost_invited``, ``event.starting`` and
``event.cancelled``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import calendar, text
from townhall.domain import usernames as username_rules
from townhall.domain.clubs import rules as club_rules
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.invites import require_member
from townhall.domain.rooms.service import Rooms
from townhall.domain.rooms.views import RoomSnapshot
from townhall.domain.views import PersonView
from townhall.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from townhall.ratelimit import RateLimiter
from townhall.security import hash_token, new_token
from townhall.storage import clubs as club_store
from townhall.storage import events as store
from townhall.storage import search as search_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Club, Event, User

logger = logging.getLogger(__name__)

NAME_MAX = 60
DESCRIPTION_MAX = 200
LISTED_AFTER_START = timedelta(hours=1)
"""Lists keep an event this long after its start time, so a late-comer still finds it."""

PUBLIC_ID_BYTES = 16
"""Random bytes in an event's public id: 22 url-safe characters, 128 bits."""

Key = tuple[datetime, str]
"""Where a list continues: ``(starts_at, public_id)``."""


def new_public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


@dataclass(frozen=True)
class EventInput:
    """What a host sends; on edit, None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    """Wall-clock time in ``time_zone`` when naive; converted when it carries an offset."""
    time_zone: str | None = None
    cohosts: list[str] | None = None
    club_id: int | None = None
    members_only: bool | None = None


@dataclass(frozen=True)
class ClubRef:
    id: int
    name: str


@dataclass(frozen=True)
class EventView:
    """An event as one viewer sees it (``reminded`` and ``is_host`` are theirs)."""

    id: str
    """The public id: random, the one links, the API and calendars use."""
    row_id: int
    """The row's own number, for what stays inside (recipients, keys); never shown."""
    name: str
    description: str
    starts_at: datetime
    """In UTC."""
    local_start: datetime
    """The wall-clock start in ``time_zone``, without a zone."""
    time_zone: str
    club: ClubRef | None
    members_only: bool
    status: str
    room_id: str | None
    url: str
    hosts: tuple[PersonView, ...]
    """The creator, then the co-hosts who accepted."""
    host_ids: tuple[int, ...]
    invited: tuple[PersonView, ...]
    """Co-hosts asked who have not answered; shown to the creator only."""
    reminded: bool
    is_host: bool
    invitation: bool
    """The viewer is asked to co-host and has not answered."""
    sequence: int
    """Grows with each change; calendars compare it."""
    created_at: datetime
    updated_at: datetime


def event_not_found() -> NotFound:
    return NotFound("event_not_found", "There is no such event.")


def invitation_not_found() -> NotFound:
    return NotFound("cohost_invitation_not_found", "You have no invitation to co-host this event.")


def check_name(name: str) -> str:
    name = text.clean(name, field="name", what="event name", max_chars=NAME_MAX, codes="event_name")
    if not name:
        raise InvalidInput("event_name_missing", "Give the event a name.")
    return name


def check_description(description: str) -> str:
    return text.clean(
        description,
        field="description",
        what="event description",
        max_chars=DESCRIPTION_MAX,
        multiline=True,
        codes="event_description",
    )


def zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            "unknown_time_zone", "That time zone is unknown; use an IANA name such as Europe/Paris."
        ) from None


class Events:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
        rooms: Rooms,
        happenings: Happenings,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._rooms = rooms
        self._happenings = happenings
        self._on_cancel: list[Callable[[AsyncSession, Event], Awaitable[None]]] = []

    # --- rules -----------------------------------------------------------------------------

    def _start_time(self, starts_at: datetime, time_zone: str) -> datetime:
        tz = zone(time_zone)
        now = self._clock.now()
        # Years far off are settled before any arithmetic that could overflow.
        if starts_at.year < now.year - 1:
            raise InvalidInput("event_in_past", "That time has passed; pick a time in the future.")
        if starts_at.year > now.year + 20:
            raise InvalidInput("event_too_far_ahead", "That time is too far ahead.")
        moment = starts_at.replace(tzinfo=tz) if starts_at.tzinfo is None else starts_at
        moment = moment.astimezone(tz)
        if moment <= now:
            raise InvalidInput("event_in_past", "That time has passed; pick a time in the future.")
        days = self._settings.event_max_days_ahead
        if moment > now + timedelta(days=days):
            raise InvalidInput(
                "event_too_far_ahead", f"Events are scheduled at most {days} days ahead."
            )
        return moment.astimezone(UTC)

    async def _cohosts(
        self, tx: AsyncSession, creator: User, usernames: list[str], club_id: int | None
    ) -> list[int]:
        names = list(dict.fromkeys(username_rules.normalise(u) for u in usernames))
        names = [n for n in names if n and n != creator.username]
        most = self._settings.event_max_cohosts
        if len(names) > most:
            raise InvalidInput("too_many_cohosts", f"An event has at most {most} co-hosts.")
        # Only well-formed usernames reach the database; the others are nobody.
        malformed = [n for n in names if not username_rules.is_username(n)]
        if malformed:
            raise InvalidInput(
                "cohost_not_member",
                "Co-hosts must be members of Townhall: " + ", ".join(f"@{n}" for n in malformed),
                usernames=malformed,
            )
        found = {u.username: u for u in await user_store.by_usernames(tx, names)}
        unknown = [n for n in names if n not in found or found[n].status != "member"]
        if unknown:
            raise InvalidInput(
                "cohost_not_member",
                "Co-hosts must be members of Townhall: " + ", ".join(f"@{n}" for n in unknown),
                usernames=unknown,
            )
        if club_id is not None:
            outside = [
                n
                for n in names
                if await club_store.role_of(tx, club_id, found[n].id) not in club_rules.MEMBER_ROLES
            ]
            if outside:
                raise InvalidInput(
                    "cohost_not_club_member",
                    "Co-hosts of a club event must be members of the club: "
                    + ", ".join(f"@{n}" for n in outside),
                    usernames=outside,
                )
        return [found[n].id for n in names]

    async def _club_for(self, tx: AsyncSession, user: User, club_id: int) -> Club:
        club = await club_store.club(tx, club_id)
        if club is None:
            raise NotFound("club_not_found", "There is no such club.")
        club_rules.require(await club_store.role_of(tx, club.id, user.id), "schedule_event")
        return club

    # --- views -----------------------------------------------------------------------------

    def url(self, public_id: str) -> str:
        return f"{self._settings.resolved_public_url}/e/{public_id}"

    async def _views(
        self, tx: AsyncSession, events: list[Event], viewer: User | None
    ) -> list[EventView]:
        ids = [e.id for e in events]
        hosts = await store.hosts(tx, ids)
        invited = await store.invited(tx, ids) if viewer else {}
        clubs = await store.clubs(tx, sorted({e.club_id for e in events if e.club_id}))
        reminded = await store.reminded(tx, ids, viewer.id) if viewer else set()
        out = []
        for e in events:
            club = clubs.get(e.club_id) if e.club_id else None
            people = hosts.get(e.id, [])
            asked = invited.get(e.id, [])
            creator = viewer is not None and viewer.id == e.created_by_id
            out.append(
                EventView(
                    id=e.public_id,
                    row_id=e.id,
                    name=e.name,
                    description=e.description,
                    starts_at=e.starts_at,
                    local_start=e.starts_at.astimezone(ZoneInfo(e.time_zone)).replace(tzinfo=None),
                    time_zone=e.time_zone,
                    club=ClubRef(club.id, club.name) if club else None,
                    members_only=e.members_only,
                    status=e.status,
                    room_id=e.room_id,
                    url=self.url(e.public_id),
                    hosts=tuple(PersonView.of(u) for u in people),
                    host_ids=tuple(u.id for u in people),
                    invited=tuple(PersonView.of(u) for u in asked) if creator else (),
                    reminded=e.id in reminded,
                    is_host=viewer is not None and any(h.id == viewer.id for h in people),
                    invitation=viewer is not None and any(u.id == viewer.id for u in asked),
                    sequence=e.sequence,
                    created_at=e.created_at,
                    updated_at=e.updated_at,
                )
            )
        return out

    async def _view(self, tx: AsyncSession, event: Event, viewer: User | None) -> EventView:
        return (await self._views(tx, [event], viewer))[0]

    def _invitations(self, event: EventView, actor: User, user_ids: list[int]) -> list[Happening]:
        """One ``event.cohost_invited`` per person newly asked, to them alone."""
        return [
            Happening(
                kind="event.cohost_invited",
                recipients=Recipients(users=(uid,)),
                actor_id=actor.id,
                data=_event_data(event),
                key=f"event.cohost_invited:{event.row_id}:{uid}",
            )
            for uid in user_ids
        ]

    def _happening(
        self, kind: str, event: EventView, actor: User, host_ids: tuple[int, ...], **extra: Any
    ) -> Happening:
        return Happening(
            kind=kind,
            recipients=Recipients(event=event.row_id)
            if kind == "event.cancelled"
            else Recipients(
                event=event.row_id if kind == "event.starting" else None,
                followers_of=host_ids,
                club=event.club.id if event.club else None,
            ),
            actor_id=actor.id,
            data={**_event_data(event), **extra},
            key=f"{kind}:{event.row_id}",
        )

    # --- creating and changing -------------------------------------------------------------

    async def create(self, user: User, data: EventInput) -> EventView:
        """Schedule an event; its followers (of the hosts and of the club) are told."""
        require_member(user)
        name = check_name(data.name or "")
        description = check_description(data.description or "")
        if data.starts_at is None or data.time_zone is None:
            raise InvalidInput("event_time_missing", "Give a start time and a time zone.")
        starts_at = self._start_time(data.starts_at, data.time_zone)
        if data.members_only and data.club_id is None:
            raise InvalidInput("members_only_needs_club", "Only a club event can be members-only.")
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if data.club_id is not None:
                await self._club_for(tx, user, data.club_id)
            cohosts = await self._cohosts(tx, user, data.cohosts or [], data.club_id)
            await self._limiter.hit(
                f"event-create:{user.id}", self._settings.limit_event_creations_per_user
            )
            event = await store.add_event(
                tx,
                Event(
                    name=name,
                    description=description,
                    starts_at=starts_at,
                    time_zone=data.time_zone,
                    club_id=data.club_id,
                    members_only=bool(data.members_only),
                    public_id=new_public_id(),
                    created_by_id=user.id,
                    status="scheduled",
                    sequence=0,
                    created_at=now,
                    updated_at=now,
                ),
            )
            asked = await store.set_hosts(tx, event.id, user.id, cohosts)
            view = await self._view(tx, event, user)
            scheduled = self._happening("event.scheduled", view, user, view.host_ids)
            await self._happenings.record(tx, scheduled, *self._invitations(view, user, asked))
        logger.info("event %s scheduled by user %s", event.id, user.id)
        return view

    async def _own(self, tx: AsyncSession, user: User, event_id: str) -> Event:
        event = await store.lock_event(tx, event_id)
        if event is None:
            raise event_not_found()
        if event.created_by_id != user.id:
            raise Forbidden("not_event_creator", "Only the person who scheduled it may change it.")
        if event.status == "cancelled":
            raise Conflict("event_cancelled", "This event was cancelled.")
        if event.status == "started":
            raise Conflict(
                "event_already_started", "This event has started.", room_id=event.room_id
            )
        return event

    async def edit(self, user: User, event_id: str, data: EventInput) -> EventView:
        """Change what was given; the calendar entry keeps its UID and its SEQUENCE grows.
        Co-hosts named for the first time are invited; the others keep their answer."""
        name = check_name(data.name) if data.name is not None else None
        description = check_description(data.description) if data.description is not None else None
        asked: list[int] = []
        async with self._db.transaction() as tx:
            event = await self._own(tx, user, event_id)
            if data.starts_at is not None or data.time_zone is not None:
                tz = data.time_zone or event.time_zone
                local = data.starts_at or event.starts_at.astimezone(zone(tz)).replace(tzinfo=None)
                event.starts_at = self._start_time(local, tz)
                event.time_zone = tz
            if data.members_only is not None:
                if data.members_only and event.club_id is None:
                    raise InvalidInput(
                        "members_only_needs_club", "Only a club event can be members-only."
                    )
                event.members_only = data.members_only
            if data.cohosts is not None:
                cohosts = await self._cohosts(tx, user, data.cohosts, event.club_id)
                asked = await store.set_hosts(tx, event.id, user.id, cohosts)
            if name is not None:
                event.name = name
            if description is not None:
                event.description = description
            event.sequence += 1
            event.updated_at = self._clock.now()
            view = await self._view(tx, event, user)
            await self._happenings.record(tx, *self._invitations(view, user, asked))
        return view

    async def answer(self, user: User, event_id: str, accept: bool) -> EventView:
        """Accept or decline an invitation to co-host. Accepting makes the person a host (and
        tells their followers, if the event has not started); declining is final for this
        event. A co-host who accepted may also step down by declining."""
        async with self._db.transaction() as tx:
            event = await store.lock_event(tx, event_id)
            if event is None:
                raise event_not_found()
            row = await store.host_row(tx, event.id, user.id)
            if (
                row is None
                or row.user_id == event.created_by_id
                or row.state == store.DECLINED
                or (accept and row.state == store.HOST)
            ):
                raise invitation_not_found()
            if event.status == "cancelled":
                raise Conflict("event_cancelled", "This event was cancelled.")
            if accept:
                require_member(user)
            row.state = store.HOST if accept else store.DECLINED
            event.sequence += 1
            event.updated_at = self._clock.now()
            view = await self._view(tx, event, user)
            if accept and view.status == "scheduled":
                told = self._happening("event.scheduled", view, user, (user.id,))
                await self._happenings.record(
                    tx,
                    Happening(
                        kind=told.kind,
                        recipients=Recipients(followers_of=(user.id,)),
                        actor_id=user.id,
                        data=told.data,
                        key=f"event.scheduled:{view.row_id}:{user.id}",
                    ),
                )
        logger.info(
            "user %s %s co-hosting event %s",
            user.id,
            "accepted" if accept else "declined",
            event_id,
        )
        return view

    async def cancel(self, user: User, event_id: str) -> EventView:
        """Cancel an event that has neither started nor passed; reminded people are told."""
        async with self._db.transaction() as tx:
            event = await self._own(tx, user, event_id)
            if event.starts_at <= self._clock.now():
                raise Conflict("event_already_past", "This event's time has passed.")
            event.status = "cancelled"
            event.sequence += 1
            event.updated_at = self._clock.now()
            view = await self._view(tx, event, user)
            host_ids = view.host_ids
            cancelled = self._happening("event.cancelled", view, user, host_ids)
            await self._happenings.record(tx, cancelled)
            for work in self._on_cancel:
                await work(tx, event)
        return view

    def on_cancel(self, work: Callable[[AsyncSession, Event], Awaitable[None]]) -> None:
        """Run ``work`` in the transaction that cancels an event (its tickets' refunds)."""
        self._on_cancel.append(work)

    # --- reading ---------------------------------------------------------------------------

    async def get(self, viewer: User | None, event_id: str) -> EventView:
        async with self._db.transaction() as tx:
            event = await store.event(tx, event_id)
            if event is None:
                raise event_not_found()
            return await self._view(tx, event, viewer)

    async def search(self, viewer: User, words: list[str], limit: int) -> list[EventView]:
        """Events to come (or started within the listing's grace) whose name or
        description has every word as a prefix; members-only ones for the club's members,
        none hosted by someone with a block either way with the viewer."""
        since = self._clock.now() - LISTED_AFTER_START
        async with self._db.transaction() as tx:
            found = await search_store.events_matching(
                tx, self._db.dialect, words, viewer.id, since, limit
            )
            return await self._views(tx, found, viewer)

    async def upcoming_for(self, user_id: int, limit: int = 10) -> list[EventView]:
        """The first of :meth:`upcoming_page` (for the hallway)."""
        views, _ = await self.upcoming_page(user_id, None, limit)
        return views

    async def upcoming_page(
        self, user_id: int, after: Key | None, limit: int
    ) -> tuple[list[EventView], Key | None]:
        """ "Upcoming for you": events of people and clubs you follow and events you host,
        and the key ``(starts_at, id)`` to continue after (None on the last page)."""
        since = self._clock.now() - LISTED_AFTER_START
        async with self._db.transaction() as tx:
            viewer = await user_store.by_id(tx, user_id)
            events, next_key = await store.upcoming_for(tx, user_id, since, after, limit)
            return await self._views(tx, events, viewer), next_key

    async def mine(
        self, user: User, after: Key | None, limit: int
    ) -> tuple[list[EventView], Key | None]:
        """ "My events": the ones you host or asked to be reminded of, and the key to
        continue after."""
        since = self._clock.now() - LISTED_AFTER_START
        async with self._db.transaction() as tx:
            events, next_key = await store.mine(tx, user.id, since, after, limit)
            return await self._views(tx, events, user), next_key

    # --- remind me and starting ------------------------------------------------------------

    async def remind(self, user: User, event_id: str, on: bool) -> EventView:
        require_member(user)
        async with self._db.transaction() as tx:
            event = await store.event(tx, event_id)
            if event is None:
                raise event_not_found()
            if on:
                if event.status == "cancelled":
                    raise Conflict("event_cancelled", "This event was cancelled.")
                await store.set_reminder(tx, event.id, user.id, self._clock.now())
            else:
                await store.drop_reminder(tx, event.id, user.id)
            return await self._view(tx, event, user)

    async def start(self, user: User, event_id: str) -> RoomSnapshot:
        """A host opens the event's room (with its club and members-only settings); the
        event links to it, and everyone who asked to be reminded is told."""
        early = timedelta(minutes=self._settings.event_early_start_minutes)
        async with self._db.transaction() as tx:
            event = await store.event(tx, event_id)
            if event is None:
                raise event_not_found()
            if not await store.is_host(tx, event.id, user.id):
                raise Forbidden("not_event_host", "Only the event's hosts may start it.")
            self._check_startable(event, early)
        snapshot = await self._rooms.create(
            user,
            event.name,
            "open",
            "everyone",
            club_id=event.club_id,
            members_only=event.members_only,
            for_event=True,
            ticketed=event.ticket_price is not None,
        )
        try:
            async with self._db.transaction() as tx:
                event = await store.lock_event(tx, event_id) or event
                self._check_startable(event, early)
                event.status = "started"
                event.room_id = snapshot.id
                event.updated_at = self._clock.now()
                view = await self._view(tx, event, user)
                host_ids = view.host_ids
                # Told (and mailed to the reminded) by the outbox, not in this request.
                starting = self._happening(
                    "event.starting", view, user, host_ids, room_id=snapshot.id
                )
                await self._happenings.record(tx, starting)
        except Conflict:
            # Another host started it (or it was cancelled) meanwhile: keep one room only.
            await self._rooms.command(user, snapshot.id, "end")
            raise
        return snapshot

    def _check_startable(self, event: Event, early: timedelta) -> None:
        if event.status == "cancelled":
            raise Conflict("event_cancelled", "This event was cancelled.")
        if event.status == "started":
            raise Conflict(
                "event_already_started", "This event has started.", room_id=event.room_id
            )
        if self._clock.now() < event.starts_at - early:
            raise Conflict(
                "event_too_early",
                f"Hosts can start an event from {early.seconds // 60} minutes before its time.",
            )

    # --- calendars -------------------------------------------------------------------------

    def _entries(self, views: list[EventView]) -> list[calendar.CalendarEntry]:
        host = self._settings.resolved_public_url.split("://", 1)[-1].split("/")[0]
        return [
            calendar.CalendarEntry(
                uid=f"event-{v.id}@{host}",
                sequence=v.sequence,
                name=v.name,
                description=v.description,
                starts_at=v.starts_at,
                time_zone=v.time_zone,
                url=v.url,
                cancelled=v.status == "cancelled",
                created_at=v.created_at,
                updated_at=v.updated_at,
                hosts=tuple(h.username for h in v.hosts),
            )
            for v in views
        ]

    async def calendar_file(self, event_id: str) -> bytes:
        """The add-to-calendar file of one event."""
        async with self._db.transaction() as tx:
            event = await store.event(tx, event_id)
            if event is None:
                raise event_not_found()
            views = await self._views(tx, [event], None)
        return calendar.render(self._entries(views), self._clock.now())

    async def new_feed(self, user: User) -> str:
        """A new private feed address token; any earlier one stops working."""
        token = new_token()
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await store.revoke_feeds(tx, user.id, now)
            await store.add_feed(tx, user.id, hash_token(token), now)
        return token

    async def revoke_feed(self, user: User) -> None:
        async with self._db.transaction() as tx:
            if not await store.revoke_feeds(tx, user.id, self._clock.now()):
                raise NotFound("calendar_feed_not_found", "You have no calendar feed to revoke.")

    async def feed_created_at(self, user: User) -> datetime | None:
        async with self._db.transaction() as tx:
            feed = await store.active_feed(tx, user.id)
            return feed.created_at if feed else None

    async def feed(self, token: str) -> bytes:
        """The feed behind a private address: the person's upcoming events ("my events")."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            found = await store.feed_by_hash(tx, hash_token(token))
            if found is None:
                raise NotFound("calendar_feed_not_found", "This calendar address does not exist.")
            if found.revoked_at is not None:
                raise Gone("calendar_feed_revoked", "This calendar address was revoked.")
            events, _ = await store.mine(tx, found.user_id, now - LISTED_AFTER_START, None, 200)
            views = await self._views(tx, events, None)
        return calendar.render(self._entries(views), now, title="Townhall events")


def _event_data(event: EventView) -> dict[str, Any]:
    """What a notification about an event says of it."""
    club = event.club
    return {
        "event_id": event.id,
        "name": event.name,
        "starts_at": event.starts_at.isoformat(),
        "time_zone": event.time_zone,
        "club_id": club.id if club else None,
        "club_name": club.name if club else None,
        "members_only": event.members_only,
        "hosts": [h.username for h in event.hosts],
        "url": event.url,
    }
