"""The social graph: follows and blocks, their keyset-paginated lists, and suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from townhall.storage import keyset
from townhall.storage.models import Block, ContactLink, Follow, User

Key = tuple[datetime, int]
"""The keyset of every list here: when the edge was made, then the other person's id."""


# --- filters shared with search -----------------------------------------------------------


def visible_to(viewer_id: int, person: Any) -> ColumnElement[bool]:
    """True when neither ``viewer_id`` nor ``person`` (a users.id column) blocked the other."""
    return and_(
        ~exists().where(Block.blocker_id == viewer_id, Block.blocked_id == person),
        ~exists().where(Block.blocker_id == person, Block.blocked_id == viewer_id),
    )


def not_followed_by(viewer_id: int, person: Any) -> ColumnElement[bool]:
    return ~exists().where(Follow.follower_id == viewer_id, Follow.followee_id == person)


# --- writes ---------------------------------------------------------------------------------


async def lock_pair(tx: AsyncSession, a: int, b: int) -> None:
    """Serialise follow and block changes between two people (row locks on PostgreSQL;
    SQLite has a single writer). Locks in id order, so two requests cannot deadlock."""
    query = (
        select(User.id).where(User.id.in_([a, b])).order_by(User.id).with_for_update(key_share=True)
    )
    await tx.execute(query)


async def add_follow(tx: AsyncSession, follower_id: int, followee_id: int, now: datetime) -> bool:
    """Record a follow; False when it was already there (its date is kept)."""
    return await _insert_ignore(
        tx, Follow, follower_id=follower_id, followee_id=followee_id, created_at=now
    )


async def remove_follow(tx: AsyncSession, follower_id: int, followee_id: int) -> bool:
    result = await tx.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_follows_between(tx: AsyncSession, a: int, b: int) -> None:
    await tx.execute(
        delete(Follow).where(
            or_(
                and_(Follow.follower_id == a, Follow.followee_id == b),
                and_(Follow.follower_id == b, Follow.followee_id == a),
            )
        )
    )


async def add_block(tx: AsyncSession, blocker_id: int, blocked_id: int, now: datetime) -> bool:
    return await _insert_ignore(
        tx, Block, blocker_id=blocker_id, blocked_id=blocked_id, created_at=now
    )


async def remove_block(tx: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    result = await tx.execute(
        delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _insert_ignore(tx: AsyncSession, model: Any, **values: Any) -> bool:
    # The one dialect difference of this module: both speak ON CONFLICT DO NOTHING.
    dialect = tx.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await tx.execute(insert(model).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- reads ----------------------------------------------------------------------------------


async def follows(tx: AsyncSession, follower_id: int, followee_id: int) -> bool:
    query = select(
        exists().where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool((await tx.execute(query)).scalar())


async def blocks(tx: AsyncSession, blocker_id: int, blocked_id: int) -> bool:
    query = select(exists().where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id))
    return bool((await tx.execute(query)).scalar())


async def followed_among(tx: AsyncSession, follower_id: int, ids: list[int]) -> set[int]:
    """Which of ``ids`` the person follows."""
    if not ids:
        return set()
    query = select(Follow.followee_id).where(
        Follow.follower_id == follower_id, Follow.followee_id.in_(ids)
    )
    return set((await tx.execute(query)).scalars())


async def counts(tx: AsyncSession, user_id: int) -> tuple[int, int]:
    """(followers, following) of one person."""
    followers = select(func.count()).where(Follow.followee_id == user_id).scalar_subquery()
    following = select(func.count()).where(Follow.follower_id == user_id).scalar_subquery()
    row = (await tx.execute(select(followers, following))).one()
    return int(row[0]), int(row[1])


async def followers_page(
    tx: AsyncSession, user_id: int, viewer_id: int, after: Key | None, limit: int
) -> tuple[list[tuple[User, datetime]], Key | None]:
    """Members who follow ``user_id``, newest follow first, minus blocks with the viewer."""
    query = (
        select(User, Follow.created_at)
        .join(Follow, Follow.follower_id == User.id)
        .where(
            Follow.followee_id == user_id,
            User.status == "member",
            visible_to(viewer_id, User.id),
        )
    )
    return await _page(tx, query, Follow.created_at, Follow.follower_id, after, limit)


async def following_page(
    tx: AsyncSession, user_id: int, viewer_id: int, after: Key | None, limit: int
) -> tuple[list[tuple[User, datetime]], Key | None]:
    """Members ``user_id`` follows, newest follow first, minus blocks with the viewer."""
    query = (
        select(User, Follow.created_at)
        .join(Follow, Follow.followee_id == User.id)
        .where(
            Follow.follower_id == user_id,
            User.status == "member",
            visible_to(viewer_id, User.id),
        )
    )
    return await _page(tx, query, Follow.created_at, Follow.followee_id, after, limit)


async def blocked_page(
    tx: AsyncSession, blocker_id: int, after: Key | None, limit: int
) -> tuple[list[tuple[User, datetime]], Key | None]:
    """People ``blocker_id`` blocked, newest block first."""
    query = (
        select(User, Block.created_at)
        .join(Block, Block.blocked_id == User.id)
        .where(Block.blocker_id == blocker_id)
    )
    return await _page(tx, query, Block.created_at, Block.blocked_id, after, limit)


async def _page(
    tx: AsyncSession,
    query: Select[User, datetime],
    created: Any,
    other_id: Any,
    after: Key | None,
    limit: int,
) -> tuple[list[tuple[User, datetime]], Key | None]:
    rows, next_key = await keyset.page(tx, query, (created.desc(), other_id.desc()), after, limit)
    return [(row[0], row[1]) for row in rows], next_key


# --- suggestions ----------------------------------------------------------------------------


def _suggestible(viewer_id: int, person: Any) -> ColumnElement[bool]:
    return and_(
        person != viewer_id, not_followed_by(viewer_id, person), visible_to(viewer_id, person)
    )


async def contacts_to_follow(tx: AsyncSession, viewer_id: int, limit: int) -> list[User]:
    """Members in the viewer's matched contacts whom they do not follow yet, newest first."""
    query = (
        select(User)
        .join(ContactLink, ContactLink.contact_id == User.id)
        .where(
            ContactLink.owner_id == viewer_id,
            User.status == "member",
            _suggestible(viewer_id, User.id),
        )
        .order_by(ContactLink.created_at.desc(), User.id.desc())
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def friends_of_friends(
    tx: AsyncSession, viewer_id: int, exclude: list[int], limit: int
) -> list[User]:
    """Members followed by people the viewer follows: the more of them, the higher; among
    equals, the one most recently followed by them first."""
    mine, theirs = aliased(Follow), aliased(Follow)
    candidate = theirs.followee_id
    query = (
        select(candidate)
        .select_from(theirs)
        .join(mine, mine.followee_id == theirs.follower_id)
        .join(User, User.id == candidate)
        .where(
            mine.follower_id == viewer_id,
            User.status == "member",
            candidate.not_in(exclude),
            _suggestible(viewer_id, candidate),
        )
        .group_by(candidate)
        .order_by(func.count().desc(), func.max(theirs.created_at).desc(), candidate.desc())
        .limit(limit)
    )
    ids = list((await tx.execute(query)).scalars())
    if not ids:
        return []
    people = {u.id: u for u in (await tx.execute(select(User).where(User.id.in_(ids)))).scalars()}
    return [people[i] for i in ids if i in people]


async def followed_by_friends(
    tx: AsyncSession, viewer_id: int, ids: list[int], per_person: int
) -> dict[int, tuple[int, list[str]]]:
    """For each of ``ids``: how many people the viewer follows follow them, and the
    usernames of the ``per_person`` who followed them most recently."""
    if not ids:
        return {}
    mine, theirs = aliased(Follow), aliased(Follow)
    order = (theirs.created_at.desc(), theirs.follower_id.desc())
    inner = (
        select(
            theirs.followee_id.label("person"),
            User.username.label("username"),
            func.row_number().over(partition_by=theirs.followee_id, order_by=order).label("n"),
            func.count().over(partition_by=theirs.followee_id).label("total"),
        )
        .select_from(theirs)
        .join(mine, mine.followee_id == theirs.follower_id)
        .join(User, User.id == theirs.follower_id)
        .where(mine.follower_id == viewer_id, theirs.followee_id.in_(ids))
        .subquery()
    )
    query = (
        select(inner.c.person, inner.c.username, inner.c.total)
        .where(inner.c.n <= per_person)
        .order_by(inner.c.person, inner.c.n)
    )
    found: dict[int, tuple[int, list[str]]] = {}
    for person, username, total in (await tx.execute(query)).all():
        found.setdefault(person, (int(total), []))[1].append(username)
    return found
