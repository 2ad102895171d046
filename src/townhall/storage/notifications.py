"""Notifications (S9): the fan-out into inboxes, the inbox itself and the settings.

A notification is stored once (``notifications``) and copied to each recipient's inbox
(``inbox``) by one ``INSERT ... SELECT``: recipients are resolved, filtered (blocks, kinds
turned off, "fewer"), and given their state (live, quiet while paused, held over the
hourly cap) inside the database, so a person with ten thousand followers costs one
statement, not ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from townhall.storage import keyset
from townhall.storage.keyset import Key
from townhall.storage.models import (
    Block,
    ClubMember,
    EventReminder,
    Follow,
    InboxItem,
    Notification,
    NotificationKindOff,
    NotificationSettings,
    Room,
    User,
)

SHOWN_STATES = ("live", "quiet", "shown")
"""States of inbox items the person sees; ``held`` ones wait for their summary."""


@dataclass(frozen=True)
class Audience:
    """Who a notification goes to, as the store resolves it."""

    users: tuple[int, ...] = ()
    followers_of: tuple[int, ...] = ()
    club: int | None = None
    """Members of this club in every role, followers included."""
    event: int | None = None
    """People who asked to be reminded of this event."""


@dataclass(frozen=True)
class Rules:
    """How recipients' settings apply to one notification."""

    kind: str
    important: bool
    """Kept for people who asked for fewer notifications."""
    actor_id: int | None
    now: datetime
    hour_ago: datetime
    default_cap: int


def _insert(tx: AsyncSession) -> Any:
    dialect = tx.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def add_notification(
    tx: AsyncSession,
    kind: str,
    actor_id: int | None,
    data: dict[str, Any],
    key: str | None,
    now: datetime,
) -> int | None:
    """Store a notification; None when one with the same ``key`` was stored before."""
    query = (
        _insert(tx)(Notification)
        .values(kind=kind, actor_id=actor_id, data=data, key=key, created_at=now)
        .on_conflict_do_nothing()
        .returning(Notification.id)
    )
    return (await tx.execute(query)).scalar_one_or_none()


def _recipients(audience: Audience) -> Any:
    parts: list[Select[Any]] = []
    if audience.users:
        parts.append(select(User.id.label("user_id")).where(User.id.in_(audience.users)))
    if audience.followers_of:
        parts.append(
            select(Follow.follower_id.label("user_id")).where(
                Follow.followee_id.in_(audience.followers_of)
            )
        )
    if audience.club is not None:
        parts.append(
            select(ClubMember.user_id.label("user_id")).where(ClubMember.club_id == audience.club)
        )
    if audience.event is not None:
        parts.append(reminded(audience.event))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0].distinct().subquery("r")
    return union(*parts).subquery("r")


async def fan_out(tx: AsyncSession, notification_id: int, audience: Audience, rules: Rules) -> int:
    """Put the notification in every recipient's inbox that their settings allow; how many."""
    r = _recipients(audience)
    if r is None:
        return 0
    uid = r.c.user_id
    s = NotificationSettings
    over_cap = (
        select(func.count())
        .select_from(InboxItem)
        .where(
            InboxItem.user_id == uid,
            InboxItem.state == "live",
            InboxItem.created_at > rules.hour_ago,
        )
        .scalar_subquery()
    ) >= func.coalesce(s.hourly_cap, rules.default_cap)
    state = case(
        (and_(s.paused_until.is_not(None), s.paused_until > rules.now), literal("quiet")),
        (over_cap, literal("held")),
        else_=literal("live"),
    )
    conditions: list[Any] = [
        ~exists().where(NotificationKindOff.user_id == uid, NotificationKindOff.kind == rules.kind)
    ]
    if not rules.important:
        conditions.append(or_(s.fewer.is_(None), s.fewer == false()))
    if rules.actor_id is not None:
        actor = rules.actor_id
        conditions.append(uid != actor)
        conditions.append(
            ~exists().where(
                or_(
                    and_(Block.blocker_id == uid, Block.blocked_id == actor),
                    and_(Block.blocker_id == actor, Block.blocked_id == uid),
                )
            )
        )
    rows = (
        select(uid, literal(notification_id), state, literal(rules.now, InboxItem.created_at.type))
        .select_from(r.outerjoin(s, s.user_id == uid))
        .where(*conditions)
    )
    result: Any = await tx.execute(
        insert(InboxItem).from_select(["user_id", "notification_id", "state", "created_at"], rows)
    )
    return int(result.rowcount)


async def recipients_in(
    tx: AsyncSession, notification_id: int, states: tuple[str, ...]
) -> list[int]:
    query = select(InboxItem.user_id).where(
        InboxItem.notification_id == notification_id, InboxItem.state.in_(states)
    )
    return list((await tx.execute(query)).scalars())


def reminded(event_id: int) -> Select[Any]:
    return select(EventReminder.user_id.label("user_id")).where(EventReminder.event_id == event_id)


async def reminded_emails(tx: AsyncSession, notification_id: int, event_id: int) -> list[str]:
    """Addresses of the recipients of a notification who asked to be reminded of the event."""
    query = (
        select(User.email)
        .join(InboxItem, InboxItem.user_id == User.id)
        .where(InboxItem.notification_id == notification_id, User.id.in_(reminded(event_id)))
    )
    return list((await tx.execute(query)).scalars())


async def live_rooms_among(tx: AsyncSession, room_ids: list[str]) -> set[str]:
    """Which of these rooms are live now."""
    if not room_ids:
        return set()
    query = select(Room.id).where(Room.id.in_(room_ids), Room.status == "live")
    return set((await tx.execute(query)).scalars())


async def emails_of(tx: AsyncSession, user_ids: list[int]) -> list[str]:
    """The addresses of these people (the deleted are missing)."""
    if not user_ids:
        return []
    return list((await tx.execute(select(User.email).where(User.id.in_(user_ids)))).scalars())


# --- the inbox ----------------------------------------------------------------------------


async def page(
    tx: AsyncSession, user_id: int, after: Key | None, limit: int
) -> tuple[list[tuple[Notification, InboxItem, User | None]], Key | None]:
    """The person's inbox, newest first, after the key ``(notification_id,)``."""
    query = (
        select(Notification, InboxItem, User)
        .join(InboxItem, InboxItem.notification_id == Notification.id)
        .outerjoin(User, User.id == Notification.actor_id)
        .where(InboxItem.user_id == user_id, InboxItem.state.in_(SHOWN_STATES))
    )
    order = (InboxItem.notification_id.desc(),)
    rows, next_key = await keyset.page(tx, query, order, after, limit)
    return [(n, i, u) for n, i, u in rows], next_key


async def unread(tx: AsyncSession, user_id: int) -> int:
    query = select(func.count()).where(
        InboxItem.user_id == user_id,
        InboxItem.state.in_(SHOWN_STATES),
        InboxItem.read_at.is_(None),
    )
    return int((await tx.execute(query)).scalar_one())


async def has_item(tx: AsyncSession, user_id: int, notification_id: int) -> bool:
    query = select(InboxItem.state).where(
        InboxItem.user_id == user_id,
        InboxItem.notification_id == notification_id,
        InboxItem.state.in_(SHOWN_STATES),
    )
    return (await tx.execute(query)).first() is not None


async def mark_read(
    tx: AsyncSession, user_id: int, now: datetime, notification_id: int | None = None
) -> int:
    """Mark one item (or every shown item) read; how many changed."""
    query = update(InboxItem).where(
        InboxItem.user_id == user_id,
        InboxItem.state.in_(SHOWN_STATES),
        InboxItem.read_at.is_(None),
    )
    if notification_id is not None:
        query = query.where(InboxItem.notification_id == notification_id)
    result: Any = await tx.execute(query.values(read_at=now))
    return int(result.rowcount)


# --- holding and summaries -----------------------------------------------------------------


async def users_to_release(
    tx: AsyncSession, hour_ago: datetime, default_cap: int, limit: int
) -> list[int]:
    """People with held items who are under their hourly cap again."""
    s = NotificationSettings
    held = (
        select(InboxItem.user_id).where(InboxItem.state == "held").distinct().limit(limit)
    ).subquery("held")
    live_count = (
        select(func.count())
        .select_from(InboxItem)
        .where(
            InboxItem.user_id == held.c.user_id,
            InboxItem.state == "live",
            InboxItem.created_at > hour_ago,
        )
        .scalar_subquery()
    )
    query = (
        select(held.c.user_id)
        .select_from(held.outerjoin(s, s.user_id == held.c.user_id))
        .where(live_count < func.coalesce(s.hourly_cap, default_cap))
    )
    return list((await tx.execute(query)).scalars())


async def release_held(tx: AsyncSession, user_id: int) -> dict[str, int]:
    """Show a person's held items; how many of each kind there were."""
    query = (
        select(Notification.kind, func.count())
        .join(InboxItem, InboxItem.notification_id == Notification.id)
        .where(InboxItem.user_id == user_id, InboxItem.state == "held")
        .group_by(Notification.kind)
    )
    kinds = {kind: int(n) for kind, n in (await tx.execute(query)).all()}
    await tx.execute(
        update(InboxItem)
        .where(InboxItem.user_id == user_id, InboxItem.state == "held")
        .values(state="shown")
    )
    return kinds


async def add_item(
    tx: AsyncSession, user_id: int, notification_id: int, state: str, now: datetime
) -> None:
    await tx.execute(
        insert(InboxItem).values(
            user_id=user_id, notification_id=notification_id, state=state, created_at=now
        )
    )


# --- settings ------------------------------------------------------------------------------


async def settings_of(
    tx: AsyncSession, user_id: int
) -> tuple[NotificationSettings | None, list[str]]:
    row = await tx.get(NotificationSettings, user_id)
    off = select(NotificationKindOff.kind).where(NotificationKindOff.user_id == user_id)
    return row, sorted((await tx.execute(off)).scalars())


async def lock_settings(tx: AsyncSession, user_id: int) -> NotificationSettings:
    """The person's settings row, created with the defaults when missing, locked."""
    await tx.execute(
        _insert(tx)(NotificationSettings)
        .values(user_id=user_id, fewer=False, paused_until=None, hourly_cap=None)
        .on_conflict_do_nothing()
    )
    query = select(NotificationSettings).where(NotificationSettings.user_id == user_id)
    return (await tx.execute(query.with_for_update())).scalar_one()


async def set_kind(tx: AsyncSession, user_id: int, kind: str, on: bool) -> None:
    if on:
        await tx.execute(
            delete(NotificationKindOff).where(
                NotificationKindOff.user_id == user_id, NotificationKindOff.kind == kind
            )
        )
    else:
        await tx.execute(
            _insert(tx)(NotificationKindOff)
            .values(user_id=user_id, kind=kind)
            .on_conflict_do_nothing()
        )
