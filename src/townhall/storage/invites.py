"""Invites: the spent ones, by link or by email, and their redemption."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import Invite


async def add(tx: AsyncSession, invite: Invite) -> Invite:
    tx.add(invite)
    await tx.flush()
    return invite


async def by_hash(tx: AsyncSession, token_hash: str) -> Invite | None:
    query = select(Invite).where(Invite.token_hash == token_hash)
    return (await tx.execute(query)).scalar_one_or_none()


async def by_id(tx: AsyncSession, invite_id: int) -> Invite | None:
    return await tx.get(Invite, invite_id)


async def pending_for_email(tx: AsyncSession, email: str) -> Invite | None:
    query = (
        select(Invite)
        .where(Invite.email == email, Invite.status == "pending")
        .order_by(Invite.id)
        .limit(1)
    )
    return (await tx.execute(query)).scalar_one_or_none()


async def pending_for_email_from(tx: AsyncSession, inviter_id: int, email: str) -> Invite | None:
    query = select(Invite).where(
        Invite.inviter_id == inviter_id, Invite.email == email, Invite.status == "pending"
    )
    return (await tx.execute(query)).scalar_one_or_none()


async def sent_by(tx: AsyncSession, inviter_id: int) -> list[Invite]:
    query = select(Invite).where(Invite.inviter_id == inviter_id).order_by(Invite.id.desc())
    return list((await tx.execute(query)).scalars())
