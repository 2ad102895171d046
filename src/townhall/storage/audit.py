"""The audit log of operator actions: rows are appended and read, never changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import AuditEntry

# Deliberately no update or delete here: the log is append-only.

USER_TARGET = "user:"
"""Entries name a person as ``user:<id>``: a username can be freed and taken again."""


def user_target(user_id: int) -> str:
    return f"{USER_TARGET}{user_id}"


async def append(tx: AsyncSession, entries: list[AuditEntry]) -> None:
    tx.add_all(entries)
    await tx.flush()


async def page(tx: AsyncSession, before_id: int | None, limit: int) -> list[AuditEntry]:
    """Entries, newest first, older than ``before_id``."""
    query = select(AuditEntry)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    query = query.order_by(AuditEntry.id.desc()).limit(limit)
    return list((await tx.execute(query)).scalars())
