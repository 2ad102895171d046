"""Contact matches: which people a member's uploaded address book pointed at.

Only the matches are stored. The uploaded hashes live in memory for the length of one
statement and are never written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.keyset import Key
from townhall.storage.models import Block, ContactLink, User

# Well under the bound-parameter limits of SQLite (32,766) and asyncpg (32,767).
CHUNK = 1000


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _no_block_between(owner_id: int, other: Any) -> Any:
    """Neither person has blocked the other."""
    return ~exists().where(
        or_(
            and_(Block.blocker_id == owner_id, Block.blocked_id == other),
            and_(Block.blocker_id == other, Block.blocked_id == owner_id),
        )
    )


async def lock_owner(tx: AsyncSession, owner_id: int) -> None:
    """Serialise uploads by the same person (a row lock on PostgreSQL; SQLite already
    lets one writer at a time)."""
    await tx.execute(select(User.id).where(User.id == owner_id).with_for_update())


async def replace(tx: AsyncSession, owner_id: int, hashes: Iterable[str], now: datetime) -> int:
    """Forget the owner's previous matches and store the people ``hashes`` point at;
    how many matched. The owner never matches themselves."""
    await tx.execute(delete(ContactLink).where(ContactLink.owner_id == owner_id))
    matched: set[int] = set()
    for chunk in _chunks(sorted(set(hashes))):
        query = select(User.id).where(User.email_hash.in_(chunk), User.id != owner_id)
        matched.update((await tx.execute(query)).scalars())
    if matched:
        await tx.execute(
            insert(ContactLink),
            [{"owner_id": owner_id, "contact_id": cid, "created_at": now} for cid in matched],
        )
    return len(matched)


async def clear(tx: AsyncSession, owner_id: int) -> int:
    result: Any = await tx.execute(delete(ContactLink).where(ContactLink.owner_id == owner_id))
    return int(result.rowcount)


async def is_contact(tx: AsyncSession, owner_id: int, contact_id: int) -> bool:
    """Whether ``contact_id`` is in the owner's matches, with no block between them."""
    query = select(ContactLink.contact_id).where(
        ContactLink.owner_id == owner_id,
        ContactLink.contact_id == contact_id,
        _no_block_between(owner_id, ContactLink.contact_id),
    )
    return (await tx.execute(query)).first() is not None


async def waitlisted_of(
    tx: AsyncSession, owner_id: int, after: Key | None, limit: int
) -> tuple[list[User], Key | None]:
    """Waitlisted people in the owner's matches, by username, after the key ``(username,)``."""
    query = (
        select(User)
        .join(ContactLink, ContactLink.contact_id == User.id)
        .where(
            ContactLink.owner_id == owner_id,
            User.status == "waitlisted",
            _no_block_between(owner_id, User.id),
        )
    )
    rows, next_key = await keyset.page(tx, query, (User.username,), after, limit)
    return [user for (user,) in rows], next_key
