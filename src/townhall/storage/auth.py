"""Sign-in codes, sign-in links and sessions. Only hashes of secrets are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import Session, SignInCode, SignInLink, User


async def latest_code(tx: AsyncSession, email: str) -> SignInCode | None:
    query = (
        select(SignInCode)
        .where(SignInCode.email == email, SignInCode.used_at.is_(None))
        .order_by(SignInCode.id.desc())
        .limit(1)
    )
    return (await tx.execute(query)).scalar_one_or_none()


async def add_code(tx: AsyncSession, code: SignInCode) -> None:
    # Only the newest code for an address is ever valid.
    await tx.execute(
        update(SignInCode)
        .where(SignInCode.email == code.email, SignInCode.used_at.is_(None))
        .values(used_at=code.created_at)
    )
    tx.add(code)
    await tx.flush()


async def spend_attempt(tx: AsyncSession, code_id: int, cap: int) -> int | None:
    """Spend one attempt on a code, unless ``cap`` are spent already: the attempts spent,
    counting this one, or None when none was left.

    One conditional UPDATE, so concurrent guesses cannot all read "attempts < cap" before
    any of them writes: PostgreSQL re-checks the condition on the locked row, SQLite holds
    the write lock from BEGIN."""
    result: Any = await tx.execute(
        update(SignInCode)
        .where(SignInCode.id == code_id, SignInCode.attempts < cap)
        .values(attempts=SignInCode.attempts + 1)
    )
    if not result.rowcount:
        return None
    spent = await tx.execute(select(SignInCode.attempts).where(SignInCode.id == code_id))
    return int(spent.scalar_one())


async def claim_code(tx: AsyncSession, code_id: int, when: datetime) -> bool:
    """Mark a code used, unless it is used (or replaced) already: only one sign-in wins."""
    result: Any = await tx.execute(
        update(SignInCode)
        .where(SignInCode.id == code_id, SignInCode.used_at.is_(None))
        .values(used_at=when)
    )
    return bool(result.rowcount)


async def purge_codes(tx: AsyncSession, before: datetime) -> None:
    await tx.execute(delete(SignInCode).where(SignInCode.expires_at < before))


async def add_link(tx: AsyncSession, link: SignInLink) -> None:
    tx.add(link)
    await tx.flush()


async def link_by_hash(tx: AsyncSession, token_hash: str) -> SignInLink | None:
    query = select(SignInLink).where(SignInLink.token_hash == token_hash)
    return (await tx.execute(query)).scalar_one_or_none()


async def add_session(tx: AsyncSession, session: Session) -> Session:
    tx.add(session)
    await tx.flush()
    return session


async def session_by_hash(tx: AsyncSession, token_hash: str) -> Session | None:
    query = select(Session).where(Session.token_hash == token_hash)
    return (await tx.execute(query)).scalar_one_or_none()


async def sessions_of(tx: AsyncSession, user_id: int) -> list[Session]:
    query = select(Session).where(Session.user_id == user_id).order_by(Session.id.desc())
    return list((await tx.execute(query)).scalars())


async def touch_session(tx: AsyncSession, session_id: int, when: datetime) -> None:
    await tx.execute(update(Session).where(Session.id == session_id).values(last_used_at=when))


async def delete_session(tx: AsyncSession, user_id: int, session_id: int) -> bool:
    result = await tx.execute(
        delete(Session).where(Session.id == session_id, Session.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def session_ids_of(tx: AsyncSession, user_id: int) -> list[int]:
    query = select(Session.id).where(Session.user_id == user_id)
    return list((await tx.execute(query)).scalars())


HOLDER_COLUMNS = (
    User.id,
    User.username,
    User.display_name,
    User.avatar,
    User.verified,
    User.status,
    User.staff_role,
    User.suspended_until,
    User.banned_at,
)
"""What a socket's commands and answers depend on of its person: their standing (status,
staff role, suspension, ban) and how rooms show them."""


async def holder_rows(tx: AsyncSession, session_ids: list[int], now: datetime) -> dict[int, Any]:
    """Session id → ``HOLDER_COLUMNS`` of its person, for the sessions among ``session_ids``
    still valid at ``now``: one query over the primary keys. Plain rows, not ORM objects,
    for comparing with the people a process already holds (most of them, unchanged)."""
    if not session_ids:
        return {}
    query = (
        select(Session.id.label("session_id"), *HOLDER_COLUMNS)
        .join(User, User.id == Session.user_id)
        .where(Session.id.in_(session_ids), Session.expires_at > now)
    )
    return {row.session_id: row for row in (await tx.execute(query)).all()}


async def delete_sessions(tx: AsyncSession, user_id: int, keep: int | None = None) -> int:
    query = delete(Session).where(Session.user_id == user_id)
    if keep is not None:
        query = query.where(Session.id != keep)
    result = await tx.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]
