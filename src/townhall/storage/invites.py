"""Invites: the spent ones, by link or by email, their redemption, and invite trees.

State changes are conditional statements (``... WHERE status = 'pending'``) rather than
read-then-write, so that two requests racing for the same invite or the last unit of quota
cannot both win, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage.models import Invite, User


def _changed(result: Any) -> int:
    return int(result.rowcount)


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
    query = (
        select(Invite)
        .where(Invite.inviter_id == inviter_id, Invite.email == email, Invite.status == "pending")
        .order_by(Invite.id)
        .limit(1)
    )
    return (await tx.execute(query)).scalar_one_or_none()


async def sent_by(tx: AsyncSession, inviter_id: int) -> list[Invite]:
    query = select(Invite).where(Invite.inviter_id == inviter_id).order_by(Invite.id.desc())
    return list((await tx.execute(query)).scalars())


async def spend_one(tx: AsyncSession, user_id: int) -> bool:
    """Take one invite from a member's quota; False when none is left."""
    result = await tx.execute(
        update(User)
        .where(User.id == user_id, User.invites_left > 0)
        .values(invites_left=User.invites_left - 1)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


async def add_to_quota(tx: AsyncSession, user_id: int, count: int, ceiling: int) -> bool:
    """Give a member ``count`` more invites unless that would take them over ``ceiling``."""
    result = await tx.execute(
        update(User)
        .where(
            User.id == user_id,
            User.status == "member",
            User.invites_left + count <= ceiling,
        )
        .values(invites_left=User.invites_left + count)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


async def refund_one(tx: AsyncSession, user_id: int) -> None:
    """Give back one invite (its invite was cancelled unused)."""
    await tx.execute(
        update(User)
        .where(User.id == user_id)
        .values(invites_left=User.invites_left + 1)
        .execution_options(synchronize_session=False)
    )


async def mark_used(tx: AsyncSession, invite_id: int, user_id: int, now: datetime) -> bool:
    """Redeem a pending invite; False if it was used or cancelled meanwhile."""
    result = await tx.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.status == "pending")
        .values(status="used", used_by_id=user_id, used_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


async def mark_cancelled(tx: AsyncSession, invite_id: int, now: datetime) -> bool:
    """Cancel a pending invite; False if it was used or cancelled meanwhile."""
    result = await tx.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.status == "pending")
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


def nominated_under(root_id: int) -> Select[tuple[int]]:
    """The ids of everyone who joined below ``root_id``: the people they nominated, the
    people those nominated, and so on. ``UNION`` (not ``UNION ALL``) ends the recursion
    even if the nominations ever formed a loop."""
    tree = select(User.id).where(User.nominated_by_id == root_id).cte("tree", recursive=True)
    tree = tree.union(select(User.id).join(tree, User.nominated_by_id == tree.c.id))
    return select(tree.c.id).where(tree.c.id != root_id)


def _in_tree(column: Any, root_id: int) -> Any:
    return or_(column == root_id, column.in_(nominated_under(root_id)))


async def tree_size(tx: AsyncSession, root_id: int) -> int:
    """How many people joined below ``root_id``."""
    query = select(func.count()).select_from(nominated_under(root_id).subquery())
    return int((await tx.execute(query)).scalar_one())


async def cancel_pending_in_tree(tx: AsyncSession, root_id: int, now: datetime) -> int:
    """Cancel every unused invite sent by ``root_id`` or anyone below them; how many."""
    result = await tx.execute(
        update(Invite)
        .where(Invite.status == "pending", _in_tree(Invite.inviter_id, root_id))
        .values(status="cancelled", cancelled_at=now)
        .returning(Invite.id)
        .execution_options(synchronize_session=False)
    )
    # Counted from RETURNING: SQLite reports no rowcount for a statement that opens WITH.
    return len(result.all())


async def clear_quota_in_tree(tx: AsyncSession, root_id: int) -> None:
    """No one in the tree, the root included, has invites left to send."""
    await tx.execute(
        update(User)
        .where(_in_tree(User.id, root_id))
        .values(invites_left=0)
        .execution_options(synchronize_session=False)
    )
