"""Reports and sanctions: the report queue, one report, a person's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.keyset import Key
from townhall.storage.models import Block, Follow, Report, RoomMember, Sanction, User

HISTORY_LIMIT = 50
"""The most earlier reports and sanctions shown with a report."""


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None
    category: str | None = None
    subject_id: int | None = None


@dataclass(frozen=True)
class QueueCounts:
    by_status: dict[str, int]
    """Reports matching the filter's category and person, by status."""
    by_category: dict[str, int]
    """Reports matching the filter's status and person, by category."""


async def add_report(tx: AsyncSession, report: Report) -> Report:
    tx.add(report)
    await tx.flush()
    return report


async def report(tx: AsyncSession, report_id: int, *, lock: bool = False) -> Report | None:
    query = select(Report).where(Report.id == report_id)
    if lock:
        query = query.with_for_update()
    return (await tx.execute(query)).scalar_one_or_none()


def _filtered(
    query: Select[*tuple[Any, ...]], f: QueueFilter, *, skip: str = ""
) -> Select[*tuple[Any, ...]]:
    if f.status is not None and skip != "status":
        query = query.where(Report.status == f.status)
    if f.category is not None and skip != "category":
        query = query.where(Report.category == f.category)
    if f.subject_id is not None:
        query = query.where(Report.subject_id == f.subject_id)
    return query


async def queue(
    tx: AsyncSession, f: QueueFilter, after: Key | None, limit: int
) -> tuple[list[Report], Key | None]:
    """Reports newest first, after the key ``(id,)``."""
    query = _filtered(select(Report), f)
    rows, next_key = await keyset.page(tx, query, (Report.id.desc(),), after, limit)
    return [r for (r,) in rows], next_key


async def counts(tx: AsyncSession, f: QueueFilter) -> QueueCounts:
    """Two grouped counts, each ignoring its own dimension of the filter."""
    by_status = _filtered(select(Report.status, func.count()), f, skip="status")
    by_category = _filtered(select(Report.category, func.count()), f, skip="category")
    statuses = await tx.execute(by_status.group_by(Report.status))
    categories = await tx.execute(by_category.group_by(Report.category))
    return QueueCounts(
        by_status={s: n for s, n in statuses.all()},
        by_category={c: n for c, n in categories.all()},
    )


async def earlier_about(
    tx: AsyncSession, subject_id: int, before_id: int | None = None
) -> list[Report]:
    """Reports about a person (filed before ``before_id`` when given), newest first."""
    query = select(Report).where(Report.subject_id == subject_id)
    if before_id is not None:
        query = query.where(Report.id < before_id)
    query = query.order_by(Report.id.desc()).limit(HISTORY_LIMIT)
    return list((await tx.execute(query)).scalars())


async def filed_by(tx: AsyncSession, reporter_id: int) -> list[Report]:
    """Reports this person filed, oldest first (their own data export)."""
    query = select(Report).where(Report.reporter_id == reporter_id).order_by(Report.id)
    return list((await tx.execute(query)).scalars())


async def add_sanction(tx: AsyncSession, sanction: Sanction) -> Sanction:
    tx.add(sanction)
    await tx.flush()
    return sanction


async def sanctions_of(
    tx: AsyncSession, user_id: int, limit: int = HISTORY_LIMIT
) -> list[Sanction]:
    """A person's sanctions, newest first."""
    query = (
        select(Sanction)
        .where(Sanction.user_id == user_id)
        .order_by(Sanction.id.desc())
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def lock_user(tx: AsyncSession, user_id: int) -> User | None:
    query = select(User).where(User.id == user_id).with_for_update()
    return (await tx.execute(query)).scalar_one_or_none()


async def set_restriction(
    tx: AsyncSession, user_id: int, suspended_until: datetime | None, banned_at: datetime | None
) -> None:
    await tx.execute(
        update(User)
        .where(User.id == user_id)
        .values(suspended_until=suspended_until, banned_at=banned_at)
    )


async def live_room_of(tx: AsyncSession, user_id: int) -> str | None:
    """The room a person is in now, if any (the one they joined last)."""
    query = (
        select(RoomMember.room_id)
        .where(RoomMember.user_id == user_id)
        .order_by(RoomMember.joined_at.desc())
        .limit(1)
    )
    return (await tx.execute(query)).scalar_one_or_none()


def shield_query(
    viewer_id: int | ColumnElement[int],
    threshold: int | ColumnElement[int],
    *,
    room_id: str | ColumnElement[str] | None = None,
    user_ids: list[int] | None = None,
) -> Select[Any]:
    """The ``blocked_id`` of everyone, among the members of ``room_id`` or among
    ``user_ids``, blocked by at least ``threshold`` of the people ``viewer_id`` follows: one
    grouped query, however many people the room holds: it walks the blocks made by the
    viewer's followees and looks each blocked person up in the room (``IN`` over the room's
    members would have SQLite read all of them first)."""
    followed = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    query = select(Block.blocked_id).where(Block.blocker_id.in_(followed))
    if room_id is not None:
        query = query.where(
            exists().where(RoomMember.room_id == room_id, RoomMember.user_id == Block.blocked_id)
        )
    if user_ids is not None:
        query = query.where(Block.blocked_id.in_(user_ids))
    return query.group_by(Block.blocked_id).having(func.count() >= threshold)


async def shielded(
    tx: AsyncSession,
    viewer_id: int,
    threshold: int,
    *,
    room_id: str | None = None,
    user_ids: list[int] | None = None,
) -> set[int]:
    """Who the viewer's shield marks (``shield_query``)."""
    query = shield_query(viewer_id, threshold, room_id=room_id, user_ids=user_ids)
    return set((await tx.execute(query)).scalars())
