"""Live rooms: rooms, their members, bans, invitations and event log."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.events import HOST
from townhall.storage.keyset import Key
from townhall.storage.models import (
    Block,
    ClubMember,
    Event,
    EventHost,
    Follow,
    Id,
    Room,
    RoomBan,
    RoomEvent,
    RoomInvitation,
    RoomMember,
    Ticket,
    User,
)
from townhall.storage.safety import shield_query
from townhall.vocabulary import STAGE_ROLES, RoomRole

STAGE = STAGE_ROLES


async def add_room(tx: AsyncSession, room: Room) -> Room:
    tx.add(room)
    await tx.flush()
    return room


async def lock_room(tx: AsyncSession, room_id: str) -> Room | None:
    """The room, with its row locked until commit: every change to a room goes through here,
    so two moderators acting at once are applied one after the other.

    On PostgreSQL the lock is ``FOR NO KEY UPDATE``: it still excludes every other change
    to the room, but not the key-share lock that inserting a row which refers to the room
    takes (a listener entering its audience), so joins never wait for a stage change."""
    query = select(Room).where(Room.id == room_id).with_for_update(key_share=True)
    return (await tx.execute(query)).scalar_one_or_none()


async def lock_audience(tx: AsyncSession, room_id: str) -> None:
    """Let joins into one room's audience, and everything that takes people out of it or
    ends it, count and change it one at a time until commit, without the room's row lock
    (which stage changes take; a transaction that holds both takes the row lock first). On
    PostgreSQL a transaction advisory lock keyed by the room; SQLite already runs one
    writing transaction at a time."""
    if tx.get_bind().dialect.name == "postgresql":
        await tx.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"audience:{room_id}"},
        )


async def room(tx: AsyncSession, room_id: str) -> Room | None:
    return await tx.get(Room, room_id)


# The reads of one person's standing to one room are built once, with parameters: building
# a statement of a dozen parts costs more than running it.
ROOM = bindparam("room_id", type_=String)
USER = bindparam("user_id", type_=Id)
CLUB = bindparam("club_id", type_=Id)
SHIELD = bindparam("shield_blocks", type_=Integer)


def _entry_parts(with_club: bool) -> list[Any]:
    """The parts of the entry facts' ``UNION ALL``: rows ``(name, value)``."""
    m = RoomMember
    moderators = select(m.user_id).where(m.room_id == ROOM, m.role == RoomRole.MODERATOR)
    parts = [
        _fact("member", m.room_id == ROOM, m.user_id == USER),
        _fact("banned", RoomBan.room_id == ROOM, RoomBan.user_id == USER),
        _fact("invited", RoomInvitation.room_id == ROOM, RoomInvitation.user_id == USER),
        _fact("blocked_by_moderator", Block.blocked_id == USER, Block.blocker_id.in_(moderators)),
        _fact("moderator_follows", Follow.followee_id == USER, Follow.follower_id.in_(moderators)),
        _fact(
            "hosts",
            Event.room_id == ROOM,
            EventHost.event_id == Event.id,
            EventHost.user_id == USER,
            EventHost.state == HOST,
        ),
        _fact(
            "ticket",
            Event.room_id == ROOM,
            Ticket.event_id == Event.id,
            Ticket.user_id == USER,
            Ticket.status == "valid",
        ),
    ]
    if with_club:
        parts.append(
            select(literal("club_role"), ClubMember.role).where(
                ClubMember.club_id == CLUB, ClubMember.user_id == USER
            )
        )
    return parts


def _fact(name: str, *where: Any) -> Any:
    return select(literal(name), cast(null(), String)).where(exists().where(*where))


@cache
def _entry_query(with_club: bool) -> Any:
    return union_all(*_entry_parts(with_club))


@cache
def _join_query(with_club: bool) -> Any:
    m = RoomMember
    stage = select(m.user_id).where(m.room_id == ROOM, m.role.in_(STAGE))
    shield = shield_query(USER, SHIELD, room_id=ROOM).subquery()
    return union_all(
        *_entry_parts(with_club),
        # Read under the audience lock, which ending a room takes too: a join never enters a
        # room that ended meanwhile.
        _fact("live", Room.id == ROOM, Room.status == "live"),
        _fact("followed_by_stage", Follow.followee_id == USER, Follow.follower_id.in_(stage)),
        select(literal("shield"), cast(shield.c.blocked_id, String)),
    )


def _standing(room: Room, user_id: int, **more: Any) -> dict[str, Any]:
    return {"room_id": room.id, "user_id": user_id, "club_id": room.club_id, **more}


async def entry_facts(tx: AsyncSession, room: Room, user_id: int) -> tuple[set[str], str | None]:
    """How one person stands to one room, as far as entering it goes, in one round trip: the
    facts that hold, named as ``storage.hallway.standing`` names them for every room at once
    (``member``, ``banned``, ``blocked_by_moderator``, ``invited``, ``moderator_follows``,
    ``hosts``: they host the room's event, ``ticket``: they hold a paid ticket to it),
    and the person's role in the room's club (None without one)."""
    held: set[str] = set()
    club_role = None
    query = _entry_query(room.club_id is not None)
    for name, role in (await tx.execute(query, _standing(room, user_id))).all():
        if name == "club_role":
            club_role = str(role)
        else:
            held.add(str(name))
    return held, club_role


@dataclass(frozen=True)
class JoinFacts:
    """What a listener's join reads in one round trip (``join_facts``)."""

    held: set[str]
    """The entry facts that hold (``entry_facts``), and ``live`` (the room is live),
    ``hosts`` (the person hosts the scheduled event whose room this is) and
    ``followed_by_stage`` (someone on stage follows them: their audience group)."""
    club_role: str | None
    shielded: set[int]
    """Members of the room the viewer's shield marks (``safety.shield_query``)."""


async def join_facts(
    tx: AsyncSession, room: Room, user_id: int, shield_threshold: int
) -> JoinFacts:
    """The entry facts, whether the person hosts the room's event, whether someone on stage
    follows them and their shield marks in the room: one ``UNION ALL``, each part driven by
    an index, none reading the whole room (its listeners are counted once per batch of
    joins, ``count_listeners``)."""
    held: set[str] = set()
    club_role = None
    shielded: set[int] = set()
    query = _join_query(room.club_id is not None)
    params = _standing(room, user_id, shield_blocks=shield_threshold)
    for name, value in (await tx.execute(query, params)).all():
        if name == "club_role":
            club_role = str(value)
        elif name == "shield":
            shielded.add(int(value))
        else:
            held.add(str(name))
    return JoinFacts(held, club_role, shielded)


async def member(tx: AsyncSession, room_id: str, user_id: int) -> RoomMember | None:
    return await tx.get(RoomMember, (room_id, user_id))


def _with_user(room_id: str) -> Any:
    return (
        select(RoomMember, User)
        .join(User, User.id == RoomMember.user_id)
        .where(RoomMember.room_id == room_id)
        .order_by(RoomMember.joined_at, RoomMember.user_id)
    )


@dataclass(frozen=True, slots=True)
class MemberRow:
    """Someone in a room with what its views show of them, read as plain columns."""

    user_id: int
    username: str
    display_name: str
    avatar: str | None
    verified: bool
    role: str
    muted: bool
    away: bool

    @classmethod
    def of(cls, m: RoomMember, u: User) -> MemberRow:
        return cls(
            u.id,
            u.username,
            u.display_name,
            u.avatar,
            u.verified,
            m.role,
            m.muted,
            m.away_since is not None,
        )


def _member_rows(room_id: str) -> Any:
    return (
        select(
            RoomMember.user_id,
            User.username,
            User.display_name,
            User.avatar,
            User.verified,
            RoomMember.role,
            RoomMember.muted,
            RoomMember.away_since.is_not(None),
        )
        .join(User, User.id == RoomMember.user_id)
        .where(RoomMember.room_id == room_id)
        .order_by(RoomMember.joined_at, RoomMember.user_id)
    )


async def stage_rows(tx: AsyncSession, room_id: str) -> list[MemberRow]:
    """The people on stage, in the order they came in."""
    query = _member_rows(room_id).where(RoomMember.role.in_(STAGE))
    return [MemberRow(*row) for row in (await tx.execute(query)).all()]


async def first_listeners(tx: AsyncSession, room_id: str, limit: int) -> list[MemberRow]:
    """The first ``limit`` listeners, in the order they came in (from the index on
    ``(room_id, role, joined_at, user_id)``: the rows returned, whatever the room's size)."""
    query = _member_rows(room_id).where(RoomMember.role == RoomRole.LISTENER).limit(limit)
    return [MemberRow(*row) for row in (await tx.execute(query)).all()]


async def stage_members(tx: AsyncSession, room_id: str) -> list[tuple[RoomMember, User]]:
    query = _with_user(room_id).where(RoomMember.role.in_(STAGE))
    return [(m, u) for m, u in (await tx.execute(query)).all()]


async def audience_page(
    tx: AsyncSession, room_id: str, after: Key | None, limit: int
) -> tuple[list[tuple[RoomMember, User]], Key | None]:
    """Listeners in the order they came in, after the key ``(joined_at, user_id)``."""
    query = (
        select(RoomMember, User)
        .join(User, User.id == RoomMember.user_id)
        .where(RoomMember.room_id == room_id, RoomMember.role == RoomRole.LISTENER)
    )
    order = (RoomMember.joined_at, RoomMember.user_id)
    rows, next_key = await keyset.page(tx, query, order, after, limit)
    return [(m, u) for m, u in rows], next_key


async def member_with_user(
    tx: AsyncSession, room_id: str, user_id: int
) -> tuple[RoomMember, User] | None:
    query = _with_user(room_id).where(RoomMember.user_id == user_id)
    row = (await tx.execute(query)).first()
    return (row[0], row[1]) if row else None


async def hand_queue(tx: AsyncSession, room_id: str) -> list[str]:
    """Usernames with a raised hand, in the order the hands went up."""
    query = (
        select(User.username)
        .join(RoomMember, RoomMember.user_id == User.id)
        .where(RoomMember.room_id == room_id, RoomMember.hand_raised_at.is_not(None))
        .order_by(RoomMember.hand_raised_at, User.username)
    )
    return list((await tx.execute(query)).scalars())


async def count_roles(tx: AsyncSession, room_id: str) -> dict[str, int]:
    query = (
        select(RoomMember.role, func.count())
        .where(RoomMember.room_id == room_id)
        .group_by(RoomMember.role)
    )
    counts = {role.value: 0 for role in RoomRole}
    counts.update({role: int(n) for role, n in (await tx.execute(query)).all()})
    return counts


async def count_listeners(tx: AsyncSession, room_id: str) -> int:
    query = select(func.count()).where(
        RoomMember.room_id == room_id, RoomMember.role == RoomRole.LISTENER
    )
    return int((await tx.execute(query)).scalar() or 0)


async def listeners_among(
    tx: AsyncSession, room_id: str, user_ids: list[int]
) -> list[tuple[RoomMember, User]]:
    """Those of ``user_ids`` who are in the room's audience now."""
    if not user_ids:
        return []
    query = _with_user(room_id).where(
        RoomMember.role == RoomRole.LISTENER, RoomMember.user_id.in_(user_ids)
    )
    return [(m, u) for m, u in (await tx.execute(query)).all()]


async def members_among(tx: AsyncSession, room_id: str, user_ids: list[int]) -> list[int]:
    """Those of ``user_ids`` who are in the room now, in any role."""
    if not user_ids:
        return []
    query = select(RoomMember.user_id).where(
        RoomMember.room_id == room_id, RoomMember.user_id.in_(user_ids)
    )
    return list((await tx.execute(query)).scalars())


async def stage_ids(tx: AsyncSession, room_id: str) -> list[int]:
    query = select(RoomMember.user_id).where(
        RoomMember.room_id == room_id, RoomMember.role.in_(STAGE)
    )
    return list((await tx.execute(query)).scalars())


async def moderator_ids(tx: AsyncSession, room_id: str) -> list[int]:
    query = select(RoomMember.user_id).where(
        RoomMember.room_id == room_id, RoomMember.role == "moderator"
    )
    return list((await tx.execute(query)).scalars())


async def last_hand_raised_at(tx: AsyncSession, room_id: str) -> datetime | None:
    """When the latest hand still raised in the room went up."""
    query = select(func.max(RoomMember.hand_raised_at)).where(RoomMember.room_id == room_id)
    return (await tx.execute(query)).scalar()


# Through the table, not the entity: the ORM's bulk insert path costs more than the insert.
_ADD_LISTENER = insert(typing.cast(Table, RoomMember.__table__)).values(
    room_id=ROOM,
    user_id=USER,
    role=RoomRole.LISTENER,
    muted=True,
    joined_at=bindparam("now"),
    last_seen_at=bindparam("now"),
)


async def add_listeners(tx: AsyncSession, room_id: str, user_ids: list[int], now: datetime) -> None:
    """People enter a room's audience: muted, seen now (one statement, no ORM objects)."""
    await tx.execute(
        _ADD_LISTENER, [{"room_id": room_id, "user_id": u, "now": now} for u in user_ids]
    )


async def add_member(
    tx: AsyncSession, room_id: str, user_id: int, role: str, now: datetime
) -> RoomMember:
    """Someone enters a room: muted, seen now."""
    m = RoomMember(
        room_id=room_id, user_id=user_id, role=role, muted=True, joined_at=now, last_seen_at=now
    )
    tx.add(m)
    await tx.flush()
    return m


async def remove_member(tx: AsyncSession, room_id: str, user_id: int) -> None:
    await tx.execute(
        delete(RoomMember).where(RoomMember.room_id == room_id, RoomMember.user_id == user_id)
    )


async def remove_listener(tx: AsyncSession, room_id: str, user_id: int) -> bool:
    """Take a listener out of the audience; False when they are not (or no longer) one."""
    result = await tx.execute(
        delete(RoomMember).where(
            RoomMember.room_id == room_id,
            RoomMember.user_id == user_id,
            RoomMember.role == RoomRole.LISTENER,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def set_listener_away(
    tx: AsyncSession, room_id: str, user_id: int, since: datetime | None
) -> bool:
    """Mark a listener away since ``since`` (or back, with None); False when they are not
    a listener, or already so."""
    now_away = (
        RoomMember.away_since.is_(None)
        if since is not None
        else (RoomMember.away_since.is_not(None))
    )
    result = await tx.execute(
        update(RoomMember)
        .where(
            RoomMember.room_id == room_id,
            RoomMember.user_id == user_id,
            RoomMember.role == RoomRole.LISTENER,
            now_away,
        )
        .values(away_since=since)
    )
    return bool(getattr(result, "rowcount", 0))


async def anyone_in(tx: AsyncSession, room_id: str) -> bool:
    """Is anyone (on stage or listening) in the room?"""
    return bool((await tx.execute(select(exists().where(RoomMember.room_id == room_id)))).scalar())


async def remove_all_members(tx: AsyncSession, room_id: str) -> None:
    await tx.execute(delete(RoomMember).where(RoomMember.room_id == room_id))


async def is_banned(tx: AsyncSession, room_id: str, user_id: int) -> bool:
    return await tx.get(RoomBan, (room_id, user_id)) is not None


async def ban(tx: AsyncSession, room_id: str, user_id: int, now: datetime) -> None:
    if not await is_banned(tx, room_id, user_id):
        tx.add(RoomBan(room_id=room_id, user_id=user_id, created_at=now))
        await tx.flush()


async def is_invited(tx: AsyncSession, room_id: str, user_id: int) -> bool:
    return await tx.get(RoomInvitation, (room_id, user_id)) is not None


async def invite(tx: AsyncSession, room_id: str, user_id: int, by_id: int, now: datetime) -> None:
    if not await is_invited(tx, room_id, user_id):
        tx.add(RoomInvitation(room_id=room_id, user_id=user_id, by_id=by_id, created_at=now))
        await tx.flush()


async def blocked_by_any(tx: AsyncSession, user_id: int, blocker_ids: list[int]) -> bool:
    """Has anyone of ``blocker_ids`` blocked ``user_id``?"""
    if not blocker_ids:
        return False
    query = select(exists().where(Block.blocked_id == user_id, Block.blocker_id.in_(blocker_ids)))
    return bool((await tx.execute(query)).scalar())


async def followed_by_any(tx: AsyncSession, user_id: int, follower_ids: list[int]) -> bool:
    """Does anyone of ``follower_ids`` follow ``user_id``?"""
    if not follower_ids:
        return False
    query = select(
        exists().where(Follow.followee_id == user_id, Follow.follower_id.in_(follower_ids))
    )
    return bool((await tx.execute(query)).scalar())


async def follows(tx: AsyncSession, follower_id: int, followee_id: int) -> bool:
    return await tx.get(Follow, (follower_id, followee_id)) is not None


async def listeners_followed_by_stage(
    tx: AsyncSession, room_id: str, among: list[int] | None = None
) -> list[int]:
    """Listeners followed by someone on stage: the audience's first group (of those
    ``among`` when given)."""
    if among is not None and not among:
        return []
    stage = (
        select(RoomMember.user_id)
        .where(RoomMember.room_id == room_id, RoomMember.role.in_(STAGE))
        .scalar_subquery()
    )
    query = select(RoomMember.user_id).where(
        RoomMember.room_id == room_id,
        RoomMember.role == "listener",
        exists().where(Follow.followee_id == RoomMember.user_id, Follow.follower_id.in_(stage)),
    )
    if among is not None:
        query = query.where(RoomMember.user_id.in_(among))
    return sorted((await tx.execute(query)).scalars())


async def add_event(tx: AsyncSession, event: RoomEvent) -> None:
    tx.add(event)
    await tx.flush()


async def events_after(tx: AsyncSession, room_id: str, seq: int, limit: int) -> list[RoomEvent]:
    query = (
        select(RoomEvent)
        .where(RoomEvent.room_id == room_id, RoomEvent.seq > seq)
        .order_by(RoomEvent.seq)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def touch(tx: AsyncSession, room_id: str, user_ids: list[int], now: datetime) -> None:
    """Record a sign of life from these members (their sockets are open)."""
    if user_ids:
        await tx.execute(
            update(RoomMember)
            .where(RoomMember.room_id == room_id, RoomMember.user_id.in_(user_ids))
            .values(last_seen_at=now)
        )


async def stale_members(tx: AsyncSession, before: datetime, limit: int = 500) -> list[Any]:
    """(room_id, user_id, role, away_since) of members silent since ``before``."""
    query = (
        select(RoomMember.room_id, RoomMember.user_id, RoomMember.role, RoomMember.away_since)
        .where(RoomMember.last_seen_at < before)
        .limit(limit)
    )
    return list((await tx.execute(query)).all())


async def back_members(tx: AsyncSession, since: datetime, limit: int = 500) -> list[Any]:
    """(room_id, user_id) of members marked away who were seen again after ``since``."""
    query = (
        select(RoomMember.room_id, RoomMember.user_id)
        .where(RoomMember.away_since.is_not(None), RoomMember.last_seen_at >= since)
        .limit(limit)
    )
    return list((await tx.execute(query)).all())


async def rooms_without_moderator(tx: AsyncSession, before: datetime) -> list[str]:
    query = select(Room.id).where(
        and_(Room.status == "live", Room.moderator_gone_at.is_not(None)),
        Room.moderator_gone_at <= before,
    )
    return list((await tx.execute(query)).scalars())


async def rooms_of(tx: AsyncSession, user_id: int) -> list[str]:
    query = select(RoomMember.room_id).where(RoomMember.user_id == user_id)
    return list((await tx.execute(query)).scalars())
