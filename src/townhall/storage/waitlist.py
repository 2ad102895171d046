"""The waitlist: people who signed in but are not members yet, and moving them across.

Letting someone in is one conditional ``UPDATE ... WHERE status = 'waitlisted'`` so that
two people (or an operator and a member) acting at once cannot both claim them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.audit import USER_TARGET
from townhall.storage.invites import nominated_under
from townhall.storage.keyset import Key
from townhall.storage.models import AuditEntry, User
from townhall.vocabulary import UserStatus

SENT_BACK = "user.demote"
"""The audit action that records an operator sending a member back to the waitlist."""
# Well under the bound-parameter limits of SQLite (32,766) and asyncpg (32,767).
CHUNK = 500


def _sent_back() -> Any:
    """True for people an operator sent back to the waitlist at some point. ``NOT IN`` /
    ``IN`` over one uncorrelated subquery: both engines read the audit log once."""
    demoted = select(AuditEntry.target).where(AuditEntry.action == SENT_BACK)
    return (literal(USER_TARGET) + cast(User.id, String)).in_(demoted)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


async def page(
    tx: AsyncSession, after: Key | None, limit: int
) -> tuple[list[tuple[User, bool]], Key | None]:
    """Waitlisted people, the longest waiting first, after the key ``(created_at, id)``,
    each with whether an operator sent them back before."""
    query = select(User, _sent_back()).where(User.status == UserStatus.WAITLISTED)
    rows, next_key = await keyset.page(tx, query, (User.created_at, User.id), after, limit)
    return [(user, bool(sent_back)) for user, sent_back in rows], next_key


async def next_batch(tx: AsyncSession, limit: int) -> list[int]:
    """The ids of the longest-waiting people no operator sent back (for approve-all)."""
    query = (
        select(User.id)
        .where(User.status == "waitlisted", ~_sent_back())
        .order_by(User.created_at, User.id)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def count_sent_back(tx: AsyncSession) -> int:
    """How many people waiting were sent back by an operator."""
    query = select(func.count()).where(User.status == "waitlisted", _sent_back())
    return int((await tx.execute(query)).scalar_one())


async def admit(
    tx: AsyncSession,
    user_ids: list[int],
    now: datetime,
    invites: int,
    nominator_id: int | None = None,
) -> dict[str, int]:
    """Make the waitlisted among ``user_ids`` members; ``{username: id}`` of those it changed,
    by username.

    The same change as ``domain.accounts.admit``: status, join date, the new member's
    invites, and the nominator (none when an operator lets them in)."""
    admitted: list[tuple[str, int]] = []
    for chunk in _chunks(user_ids):
        result = await tx.execute(
            update(User)
            .where(User.id.in_(chunk), User.status == "waitlisted")
            .values(
                status="member", joined_at=now, invites_left=invites, nominated_by_id=nominator_id
            )
            .returning(User.username, User.id)
            .execution_options(synchronize_session=False)
        )
        admitted.extend((name, uid) for name, uid in result.all())
    return dict(sorted(admitted))


async def members_below(tx: AsyncSession, root_id: int) -> list[int]:
    """The members (staff aside) who joined below ``root_id``, at any depth."""
    query = select(User.id).where(
        User.id.in_(nominated_under(root_id)),
        User.status == "member",
        User.staff_role.is_(None),
    )
    return list((await tx.execute(query)).scalars())


async def send_back(tx: AsyncSession, user_ids: list[int]) -> dict[str, int]:
    """Put members back on the waitlist as if they had never joined: no join date, no
    nominator, no invites. ``{username: id}`` of those it changed, by username."""
    demoted: list[tuple[str, int]] = []
    for chunk in _chunks(user_ids):
        result = await tx.execute(
            update(User)
            .where(User.id.in_(chunk), User.status == "member", User.staff_role.is_(None))
            .values(status="waitlisted", joined_at=None, nominated_by_id=None, invites_left=0)
            .returning(User.username, User.id)
            .execution_options(synchronize_session=False)
        )
        demoted.extend((name, uid) for name, uid in result.all())
    return dict(sorted(demoted))
