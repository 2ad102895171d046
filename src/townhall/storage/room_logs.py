"""The event logs of ended rooms: which are due to go, and deleting one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import Room, RoomEvent


async def due(tx: AsyncSession, ended_before: datetime, limit: int) -> list[str]:
    """Rooms that ended before ``ended_before`` and still have their log (a live room has
    no ``ended_at``); ``ix_rooms_log_erased_ended`` finds them without reading the others."""
    query = (
        select(Room.id)
        .where(Room.log_erased_at.is_(None), Room.ended_at <= ended_before)
        .order_by(Room.ended_at, Room.id)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def erase(tx: AsyncSession, room_ids: list[str], now: datetime) -> None:
    if room_ids:
        await tx.execute(delete(RoomEvent).where(RoomEvent.room_id.in_(room_ids)))
        await tx.execute(update(Room).where(Room.id.in_(room_ids)).values(log_erased_at=now))
