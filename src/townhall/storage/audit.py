"""The audit log of operator actions: rows are appended and read, never changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.keyset import Key
from townhall.storage.models import AuditEntry

# Deliberately no update or delete here: the log is append-only.

USER_TARGET = "user:"
"""Entries name a person as ``user:<id>``: a username can be freed and taken again."""


def user_target(user_id: int) -> str:
    return f"{USER_TARGET}{user_id}"


async def append(tx: AsyncSession, entries: list[AuditEntry]) -> None:
    tx.add_all(entries)
    await tx.flush()


async def page(
    tx: AsyncSession,
    after: Key | None,
    limit: int,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
) -> tuple[list[AuditEntry], Key | None]:
    """Entries, newest first, after the key ``(id,)``, with the filters given."""
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    rows, next_key = await keyset.page(tx, query, (AuditEntry.id.desc(),), after, limit)
    return [entry for (entry,) in rows], next_key
