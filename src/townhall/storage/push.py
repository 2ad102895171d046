"""Web Push subscriptions: one per device, keyed by the push service's endpoint."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import PushSubscription


async def save(tx: AsyncSession, row: PushSubscription) -> None:
    """Keep ``row``; an endpoint already known (the same device subscribing again, or
    after another sign-in) moves to this person and session with the new keys."""
    await tx.execute(
        delete(PushSubscription).where(PushSubscription.endpoint_hash == row.endpoint_hash)
    )
    tx.add(row)
    await tx.flush()


async def remove(tx: AsyncSession, user_id: int, endpoint_hash: str) -> bool:
    result = await tx.execute(
        delete(PushSubscription).where(
            PushSubscription.user_id == user_id, PushSubscription.endpoint_hash == endpoint_hash
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def forget(tx: AsyncSession, subscription_id: int) -> None:
    """The push service said the subscription is gone (404 or 410)."""
    await tx.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))


async def of_users(tx: AsyncSession, user_ids: list[int]) -> list[PushSubscription]:
    if not user_ids:
        return []
    query = (
        select(PushSubscription)
        .where(PushSubscription.user_id.in_(user_ids))
        .order_by(PushSubscription.user_id, PushSubscription.id)
    )
    return list((await tx.execute(query)).scalars())


async def count_of(tx: AsyncSession, user_id: int) -> int:
    query = select(func.count()).where(PushSubscription.user_id == user_id)
    return int((await tx.execute(query)).scalar_one())


async def has(tx: AsyncSession, user_id: int, endpoint_hash: str) -> bool:
    query = select(PushSubscription.id).where(
        PushSubscription.user_id == user_id, PushSubscription.endpoint_hash == endpoint_hash
    )
    return (await tx.execute(query)).first() is not None
