"""The hallway's reads (S6): every live room's figures, and how one person stands to each,
in a fixed number of queries whatever the number of rooms; and the topics a person joined.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, delete, func, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import (
    Block,
    ClubMember,
    Event,
    EventHost,
    Follow,
    HallwayTopic,
    Id,
    Room,
    RoomBan,
    RoomInvitation,
    RoomMember,
    Ticket,
    User,
)
from townhall.vocabulary import STAGE_ROLES

STAGE = STAGE_ROLES


@dataclass(frozen=True)
class LiveRoom:
    id: str
    title: str
    kind: str
    club_id: int | None
    members_only: bool
    created_by_id: int | None
    created_at: datetime
    listeners: int
    on_stage: int
    recent_joins: int
    ticketed: bool = False


async def live_rooms(tx: AsyncSession, joined_since: datetime) -> list[LiveRoom]:
    """Every live room with its listeners, people on stage and recent arrivals."""
    m = RoomMember
    query = (
        select(
            Room.id,
            Room.title,
            Room.kind,
            Room.club_id,
            Room.members_only,
            Room.created_by_id,
            Room.created_at,
            func.coalesce(func.sum(case((m.role == "listener", 1), else_=0)), 0),
            func.coalesce(func.sum(case((m.role.in_(STAGE), 1), else_=0)), 0),
            func.coalesce(func.sum(case((m.joined_at > joined_since, 1), else_=0)), 0),
            Room.ticketed,
        )
        .outerjoin(m, m.room_id == Room.id)
        .where(Room.status == "live")
        .group_by(Room.id)
    )
    return [
        LiveRoom(
            r[0],
            r[1],
            r[2],
            r[3],
            bool(r[4]),
            r[5],
            r[6],
            int(r[7]),
            int(r[8]),
            int(r[9]),
            bool(r[10]),
        )
        for r in (await tx.execute(query)).all()
    ]


async def club_roles(tx: AsyncSession, user_id: int) -> dict[int, str]:
    """club id → the person's role in it, for every club they are part of."""
    query = select(ClubMember.club_id, ClubMember.role).where(ClubMember.user_id == user_id)
    return {int(c): str(r) for c, r in (await tx.execute(query)).all()}


async def standing(tx: AsyncSession, user_id: int) -> dict[str, dict[str, int]]:
    """Everything the hallway needs to know about one person, in one round trip: for each
    fact, key → number.

    About rooms (key: room id): ``member`` (they are in it), ``followed_on_stage`` /
    ``followed_listening`` (people they follow), ``blocked_on_stage`` (people they
    blocked), ``blocked_by_moderator``, ``banned``, ``invited``, ``moderator_follows`` (a
    moderator follows them; read for social rooms only), ``ticket`` (a paid ticket to the
    room's event), ``hosts`` (they host it). ``member`` to ``hosts`` are the entry facts,
    named as ``storage.rooms.entry_facts`` names them for one room.
    About them (other key): ``topic`` (word → weight)."""
    m = RoomMember

    parts = [
        select(m.room_id).where(m.user_id == user_id).add_columns(literal("member"), literal(1)),
        select(m.room_id)
        .join(Follow, and_(Follow.followee_id == m.user_id, Follow.follower_id == user_id))
        .where(m.role.in_(STAGE))
        .group_by(m.room_id)
        .add_columns(literal("followed_on_stage"), func.count()),
        select(m.room_id)
        .join(Follow, and_(Follow.followee_id == m.user_id, Follow.follower_id == user_id))
        .where(m.role == "listener")
        .group_by(m.room_id)
        .add_columns(literal("followed_listening"), func.count()),
        select(m.room_id)
        .join(Block, and_(Block.blocked_id == m.user_id, Block.blocker_id == user_id))
        .where(m.role.in_(STAGE))
        .group_by(m.room_id)
        .add_columns(literal("blocked_on_stage"), func.count()),
        select(m.room_id)
        .join(Block, and_(Block.blocker_id == m.user_id, Block.blocked_id == user_id))
        .where(m.role == "moderator")
        .group_by(m.room_id)
        .add_columns(literal("blocked_by_moderator"), func.count()),
        # Only social rooms need it; starting from their moderators keeps a person with
        # many followers cheap.
        select(m.room_id)
        .join(Room, and_(Room.id == m.room_id, Room.kind == "social"))
        .join(Follow, and_(Follow.follower_id == m.user_id, Follow.followee_id == user_id))
        .where(m.role == "moderator")
        .group_by(m.room_id)
        .add_columns(literal("moderator_follows"), func.count()),
        select(RoomBan.room_id)
        .where(RoomBan.user_id == user_id)
        .add_columns(literal("banned"), literal(1)),
        select(RoomInvitation.room_id)
        .where(RoomInvitation.user_id == user_id)
        .add_columns(literal("invited"), literal(1)),
        # Ticketed rooms (S10): a paid ticket to their event, or hosting it.
        select(Event.room_id)
        .join(Ticket, and_(Ticket.event_id == Event.id, Ticket.user_id == user_id))
        .where(Event.room_id.is_not(None), Ticket.status == "valid")
        .add_columns(literal("ticket"), literal(1)),
        select(Event.room_id)
        .join(EventHost, and_(EventHost.event_id == Event.id, EventHost.user_id == user_id))
        .where(Event.room_id.is_not(None), EventHost.state == "host")
        .add_columns(literal("hosts"), literal(1)),
        select(HallwayTopic.word, literal("topic"), HallwayTopic.weight).where(
            HallwayTopic.user_id == user_id
        ),
    ]
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for room_id, name, n in (await tx.execute(union_all(*parts))).all():
        out[str(name)][str(room_id)] = int(n)
    return out


@dataclass(frozen=True)
class OnStage:
    role: str
    username: str
    display_name: str
    avatar: str | None


async def live_stages(
    tx: AsyncSession, room_ids: list[str] | None = None
) -> dict[str, list[OnStage]]:
    """Who is on stage in every live room (or in those of ``room_ids``), moderators first,
    then by arrival."""
    query = (
        select(RoomMember.room_id, RoomMember.role, User.username, User.display_name, User.avatar)
        .join(User, User.id == RoomMember.user_id)
        .join(Room, Room.id == RoomMember.room_id)
        .where(Room.status == "live", RoomMember.role.in_(STAGE))
        .order_by(RoomMember.room_id, RoomMember.role, RoomMember.joined_at)
    )
    if room_ids is not None:
        query = query.where(RoomMember.room_id.in_(room_ids))
    out: dict[str, list[OnStage]] = defaultdict(list)
    for room_id, role, username, display_name, avatar in (await tx.execute(query)).all():
        out[room_id].append(OnStage(role, username, display_name, avatar))
    return out


# --- topics --------------------------------------------------------------------------------


@cache
def _topic_queries(dialect: str) -> tuple[Any, Any]:
    """Count a word for a person (run once per word), then keep their ``keep`` most recent;
    built once per dialect, with parameters."""
    table = typing.cast(Table, HallwayTopic.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    user = bindparam("user_id", type_=Id)
    count = insert(table).values(
        user_id=user, word=bindparam("word"), weight=1, updated_at=bindparam("now")
    )
    count = count.on_conflict_do_update(
        index_elements=["user_id", "word"],
        set_={"weight": table.c.weight + 1, "updated_at": count.excluded.updated_at},
    )
    recent = (
        select(table.c.word)
        .where(table.c.user_id == user)
        .order_by(table.c.updated_at.desc(), table.c.weight.desc())
        .limit(bindparam("keep"))
    )
    trim = delete(table).where(table.c.user_id == user, table.c.word.not_in(recent))
    return count, trim


async def remember_topics(
    tx: AsyncSession, user_ids: list[int], words: list[str], now: datetime, keep: int
) -> None:
    """Count these words for each of the people, then forget all but each one's ``keep``
    most recent (two statements, whatever the number of people)."""
    if not words or not user_ids:
        return
    count, trim = _topic_queries(tx.get_bind().dialect.name)
    await tx.execute(
        count, [{"user_id": u, "word": w, "now": now} for u in user_ids for w in words]
    )
    await tx.execute(trim, [{"user_id": u, "keep": keep} for u in user_ids])
