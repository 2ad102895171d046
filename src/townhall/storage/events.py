"""Scheduled events: the events, their hosts, reminders and personal calendar feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.clubs import MEMBER_ROLES
from townhall.storage.keyset import Key
from townhall.storage.models import (
    CalendarFeed,
    Club,
    ClubMember,
    Event,
    EventHost,
    EventReminder,
    Follow,
    User,
)


async def add_event(tx: AsyncSession, event: Event) -> Event:
    tx.add(event)
    await tx.flush()
    return event


async def event(tx: AsyncSession, public_id: str) -> Event | None:
    """The event of this public id (the only id anyone outside sees)."""
    query = select(Event).where(Event.public_id == public_id)
    return (await tx.execute(query)).scalar_one_or_none()


async def lock_event(tx: AsyncSession, public_id: str) -> Event | None:
    query = select(Event).where(Event.public_id == public_id).with_for_update()
    return (await tx.execute(query)).scalar_one_or_none()


HOST = "host"
INVITED = "invited"
DECLINED = "declined"


async def set_hosts(
    tx: AsyncSession, event_id: int, creator_id: int, cohost_ids: list[int]
) -> list[int]:
    """The creator hosts; the co-hosts named, in order, keep their answer or are invited.
    Rows of people no longer named go, except declined ones, which stay so that naming them
    again invites nobody. Returns the people newly invited."""
    rows = {
        r.user_id: r
        for r in (
            await tx.execute(select(EventHost).where(EventHost.event_id == event_id))
        ).scalars()
    }
    named = [creator_id, *(i for i in cohost_ids if i != creator_id)]
    invited: list[int] = []
    for position, user_id in enumerate(named):
        row = rows.pop(user_id, None)
        if row is None:
            state = HOST if user_id == creator_id else INVITED
            tx.add(EventHost(event_id=event_id, user_id=user_id, position=position, state=state))
            if state == INVITED:
                invited.append(user_id)
        else:
            row.position = position
    gone = [uid for uid, row in rows.items() if row.state != DECLINED]
    if gone:
        await tx.execute(
            delete(EventHost).where(EventHost.event_id == event_id, EventHost.user_id.in_(gone))
        )
    await tx.flush()
    return invited


async def _people(tx: AsyncSession, event_ids: list[int], state: str) -> dict[int, list[User]]:
    if not event_ids:
        return {}
    query = (
        select(EventHost.event_id, User)
        .join(User, User.id == EventHost.user_id)
        .where(EventHost.event_id.in_(event_ids), EventHost.state == state)
        .order_by(EventHost.event_id, EventHost.position)
    )
    found: dict[int, list[User]] = {i: [] for i in event_ids}
    for event_id, user in (await tx.execute(query)).all():
        found[event_id].append(user)
    return found


async def hosts(tx: AsyncSession, event_ids: list[int]) -> dict[int, list[User]]:
    """Event id -> its hosts in order (the creator, then co-hosts who accepted)."""
    return await _people(tx, event_ids, HOST)


async def invited(tx: AsyncSession, event_ids: list[int]) -> dict[int, list[User]]:
    """Event id -> the co-hosts asked who have not answered yet."""
    return await _people(tx, event_ids, INVITED)


async def host_row(tx: AsyncSession, event_id: int, user_id: int) -> EventHost | None:
    query = (
        select(EventHost)
        .where(EventHost.event_id == event_id, EventHost.user_id == user_id)
        .with_for_update()
    )
    return (await tx.execute(query)).scalar_one_or_none()


async def is_host(tx: AsyncSession, event_id: int, user_id: int) -> bool:
    row = await tx.get(EventHost, (event_id, user_id))
    return row is not None and row.state == HOST


async def hosts_room(tx: AsyncSession, room_id: str, user_id: int) -> bool:
    """Is the person a host (not merely invited) of the event whose room this is?"""
    query = select(
        exists().where(
            Event.room_id == room_id,
            EventHost.event_id == Event.id,
            EventHost.user_id == user_id,
            EventHost.state == HOST,
        )
    )
    return bool((await tx.execute(query)).scalar())


async def clubs(tx: AsyncSession, club_ids: list[int]) -> dict[int, Club]:
    if not club_ids:
        return {}
    return {
        c.id: c for c in (await tx.execute(select(Club).where(Club.id.in_(club_ids)))).scalars()
    }


# --- reminders --------------------------------------------------------------------------------


async def set_reminder(tx: AsyncSession, event_id: int, user_id: int, now: datetime) -> None:
    if await tx.get(EventReminder, (event_id, user_id)) is None:
        tx.add(EventReminder(event_id=event_id, user_id=user_id, created_at=now))
        await tx.flush()


async def drop_reminder(tx: AsyncSession, event_id: int, user_id: int) -> None:
    await tx.execute(
        delete(EventReminder).where(
            EventReminder.event_id == event_id, EventReminder.user_id == user_id
        )
    )


async def reminded(tx: AsyncSession, event_ids: list[int], user_id: int) -> set[int]:
    if not event_ids:
        return set()
    query = select(EventReminder.event_id).where(
        EventReminder.user_id == user_id, EventReminder.event_id.in_(event_ids)
    )
    return set((await tx.execute(query)).scalars())


# --- lists --------------------------------------------------------------------------------------


def _hosted_by(user_id: int) -> Any:
    return exists().where(
        EventHost.event_id == Event.id, EventHost.user_id == user_id, EventHost.state == HOST
    )


async def _page(
    tx: AsyncSession, query: Any, after: Key | None, limit: int
) -> tuple[list[Event], Key | None]:
    """Events by start time, after the key ``(starts_at, public_id)``."""
    order = (Event.starts_at, Event.public_id)
    rows, next_key = await keyset.page(tx, query, order, after, limit)
    return [event for (event,) in rows], next_key


async def upcoming_for(
    tx: AsyncSession,
    user_id: int,
    since: datetime,
    after: Key | None,
    limit: int,
) -> tuple[list[Event], Key | None]:
    """Events not cancelled, starting after ``since``, hosted by the person or by people they
    follow, or of clubs they follow; members-only events only for the club's members."""
    followed = select(Follow.followee_id).where(Follow.follower_id == user_id)
    by_followed = exists().where(
        EventHost.event_id == Event.id, EventHost.user_id.in_(followed), EventHost.state == HOST
    )
    clubs_followed = select(ClubMember.club_id).where(ClubMember.user_id == user_id)
    member_of = select(ClubMember.club_id).where(
        ClubMember.user_id == user_id, ClubMember.role.in_(MEMBER_ROLES)
    )
    hosted = _hosted_by(user_id)
    query = select(Event).where(
        Event.status != "cancelled",
        Event.starts_at >= since,
        or_(hosted, by_followed, Event.club_id.in_(clubs_followed)),
        or_(Event.members_only == false(), Event.club_id.in_(member_of), hosted),
    )
    return await _page(tx, query, after, limit)


async def mine(
    tx: AsyncSession,
    user_id: int,
    since: datetime,
    after: Key | None,
    limit: int,
) -> tuple[list[Event], Key | None]:
    """Events the person hosts or asked to be reminded of, not cancelled, after ``since``."""
    asked = exists().where(EventReminder.event_id == Event.id, EventReminder.user_id == user_id)
    query = select(Event).where(
        Event.status != "cancelled",
        Event.starts_at >= since,
        or_(_hosted_by(user_id), asked),
    )
    return await _page(tx, query, after, limit)


# --- calendar feeds -------------------------------------------------------------------------


async def feed_by_hash(tx: AsyncSession, token_hash: str) -> CalendarFeed | None:
    query = select(CalendarFeed).where(CalendarFeed.token_hash == token_hash)
    return (await tx.execute(query)).scalar_one_or_none()


async def active_feed(tx: AsyncSession, user_id: int) -> CalendarFeed | None:
    query = select(CalendarFeed).where(
        CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
    )
    return (await tx.execute(query.limit(1))).scalar_one_or_none()


async def revoke_feeds(tx: AsyncSession, user_id: int, now: datetime) -> int:
    result = await tx.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_feed(tx: AsyncSession, user_id: int, token_hash: str, now: datetime) -> CalendarFeed:
    feed = CalendarFeed(user_id=user_id, token_hash=token_hash, created_at=now)
    tx.add(feed)
    await tx.flush()
    return feed
