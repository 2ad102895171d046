"""People: lookups and writes on the users table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import User


async def by_id(tx: AsyncSession, user_id: int) -> User | None:
    return await tx.get(User, user_id)


async def by_email(tx: AsyncSession, email: str) -> User | None:
    return (await tx.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def by_username(tx: AsyncSession, username: str) -> User | None:
    result = await tx.execute(select(User).where(User.username == username.lower()))
    return result.scalar_one_or_none()


async def by_usernames(tx: AsyncSession, usernames: list[str]) -> list[User]:
    names = [u.lower() for u in usernames]
    return list((await tx.execute(select(User).where(User.username.in_(names)))).scalars())


async def by_ids(tx: AsyncSession, ids: list[int]) -> dict[int, User]:
    if not ids:
        return {}
    rows = (await tx.execute(select(User).where(User.id.in_(ids)))).scalars()
    return {u.id: u for u in rows}


async def add(tx: AsyncSession, user: User) -> User:
    tx.add(user)
    await tx.flush()
    return user
