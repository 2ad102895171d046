"""The outbox table: rows written in a change's transaction, taken by workers, then deleted.

Several processes may take rows at once. On PostgreSQL ``claim`` locks the rows it reads
with ``FOR UPDATE SKIP LOCKED``, so two workers never wait for each other nor take the
same row; on SQLite the transaction itself holds the database's single write lock
(``Database.transaction``), so claims are taken one after the other. Either way the claim
moves the rows' ``due_at`` past a lease before it commits: until then no other worker
takes them, and after it (the worker died) another one does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import OutboxRow

ERROR_MAX = 200


async def add(tx: AsyncSession, topic: str, bodies: list[dict[str, Any]], now: datetime) -> None:
    """Write rows of one topic, due at once."""
    if not bodies:
        return
    await tx.execute(
        insert(OutboxRow),
        [
            {"topic": topic, "body": b, "created_at": now, "due_at": now, "attempts": 0}
            for b in bodies
        ],
    )


async def claim(
    tx: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxRow]:
    """Take up to ``limit`` due rows, oldest first, and keep them from others until
    ``lease_until``; each taking counts as an attempt."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.due_at <= now)
        .order_by(OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list((await tx.execute(query)).scalars())
    for row in rows:
        row.due_at = lease_until
        row.attempts += 1
    return rows


async def done(tx: AsyncSession, row_id: int) -> None:
    await tx.execute(delete(OutboxRow).where(OutboxRow.id == row_id))


async def retry(tx: AsyncSession, row_id: int, at: datetime, error: str) -> None:
    """Leave a failed row for another attempt at ``at``, with what went wrong."""
    await tx.execute(
        update(OutboxRow).where(OutboxRow.id == row_id).values(due_at=at, error=error[:ERROR_MAX])
    )


async def pending(tx: AsyncSession) -> int:
    """How many rows wait (due or not)."""
    return int((await tx.execute(select(func.count()).select_from(OutboxRow))).scalar_one())
