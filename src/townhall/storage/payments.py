"""Payments, payouts and the provider's events: their SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.ledger import insert_once
from townhall.storage.models import Payment, Payout, ProviderEvent


async def open_once(tx: AsyncSession, model: Any, **values: Any) -> tuple[Any, bool]:
    """A payment or payout row for its ``request_key``: made now (True) or found (False)."""
    new_id = await tx.scalar(insert_once(tx, model, **values))
    if new_id is not None:
        row = await tx.get(model, new_id)
        return row, True
    row = await tx.scalar(select(model).where(model.request_key == values["request_key"]))
    return row, False


async def lock_payment(tx: AsyncSession, payment_id: int) -> Payment | None:
    return await tx.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def payment_by_public_id(tx: AsyncSession, public_id: str) -> Payment | None:
    return await tx.scalar(select(Payment).where(Payment.public_id == public_id))


async def payment_for_intent(
    tx: AsyncSession, intent_id: str, public_id: str | None
) -> Payment | None:
    """The payment of a provider intent: by the intent's id, or by the payment's own id in
    the intent's metadata (an event can arrive before the intent's id was recorded)."""
    conditions = [Payment.intent_id == intent_id]
    if public_id:
        conditions.append(Payment.public_id == public_id)
    found = await tx.scalar(select(Payment.id).where(or_(*conditions)).limit(1))
    return await lock_payment(tx, found) if found is not None else None


async def payments_of(tx: AsyncSession, user_id: int, limit: int) -> Sequence[Payment]:
    """Payments ``user_id`` made, newest first."""
    return list(
        await tx.scalars(
            select(Payment)
            .where(Payment.payer_id == user_id)
            .order_by(Payment.id.desc())
            .limit(limit)
        )
    )


async def unsettled(tx: AsyncSession, limit: int) -> Sequence[Payment]:
    """Payments that have an intent and are not final, oldest first (reconciliation)."""
    return list(
        await tx.scalars(
            select(Payment)
            .where(
                Payment.intent_id.is_not(None),
                Payment.status.in_(("pending", "requires_action", "processing")),
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )


async def first_delivery(
    tx: AsyncSession, event_id: str, kind: str, created: datetime, now: datetime
) -> bool:
    """Record a provider event as handled; False when it had been (a second delivery)."""
    new = await tx.scalar(
        insert_once(tx, ProviderEvent, id=event_id, type=kind, created=created, received_at=now)
    )
    return new is not None


async def lock_payout(tx: AsyncSession, provider_ref: str) -> Payout | None:
    return await tx.scalar(
        select(Payout)
        .where(Payout.provider_ref == provider_ref)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def payouts_of(tx: AsyncSession, user_id: int, limit: int) -> Sequence[Payout]:
    return list(
        await tx.scalars(
            select(Payout).where(Payout.user_id == user_id).order_by(Payout.id.desc()).limit(limit)
        )
    )
