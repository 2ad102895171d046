"""Which media worker holds each room's audio (``media_rooms``): read by every API process,
written once and then moved only by compare-and-set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import MediaRoom


async def home_of(tx: AsyncSession, room_id: str) -> str | None:
    return await tx.scalar(select(MediaRoom.worker).where(MediaRoom.room_id == room_id))


async def claim(tx: AsyncSession, room_id: str, worker: str, now: datetime) -> None:
    """Make ``worker`` the room's home unless it has one already."""
    dialect = tx.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await tx.execute(
        insert(MediaRoom)
        .values(room_id=room_id, worker=worker, placed_at=now)
        .on_conflict_do_nothing()
    )


async def move(tx: AsyncSession, room_id: str, old: str, new: str | None, now: datetime) -> bool:
    """Move the room from ``old`` to ``new`` (None: nowhere, until its next offer) if its
    home is still ``old``; whether this call moved it."""
    if new is None:
        result = await tx.execute(
            delete(MediaRoom).where(MediaRoom.room_id == room_id, MediaRoom.worker == old)
        )
    else:
        result = await tx.execute(
            update(MediaRoom)
            .where(MediaRoom.room_id == room_id, MediaRoom.worker == old)
            .values(worker=new, placed_at=now)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def rooms_on(tx: AsyncSession, worker: str) -> list[str]:
    return list(await tx.scalars(select(MediaRoom.room_id).where(MediaRoom.worker == worker)))
