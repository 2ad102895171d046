"""Clubs: the clubs, who is in them and in which role, pending requests, and club search.

Search follows storage/search.py: FTS5 over ``clubs_fts`` on SQLite, the GIN-indexed
``to_tsvector`` expression of migration 0003 on PostgreSQL; the difference lives here only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import column, delete, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.storage import keyset
from townhall.storage.keyset import Key
from townhall.storage.models import Club, ClubMember, ClubRequest, Room, User
from townhall.vocabulary import CLUB_MANAGER_ROLES, CLUB_MEMBER_ROLES, ClubRole

MEMBER_ROLES = CLUB_MEMBER_ROLES
MANAGER_ROLES = CLUB_MANAGER_ROLES


async def rooms_created_by(tx: AsyncSession, user_id: int) -> int:
    query = select(func.count()).select_from(Room).where(Room.created_by_id == user_id)
    return int((await tx.execute(query)).scalar_one())


async def add_club(tx: AsyncSession, club: Club) -> Club:
    tx.add(club)
    await tx.flush()
    return club


async def club(tx: AsyncSession, club_id: int) -> Club | None:
    return await tx.get(Club, club_id)


async def lock_club(tx: AsyncSession, club_id: int) -> Club | None:
    """The club with its row locked: membership changes of one club go one at a time."""
    query = select(Club).where(Club.id == club_id).with_for_update()
    return (await tx.execute(query)).scalar_one_or_none()


async def name_taken(tx: AsyncSession, name_key: str, except_id: int | None = None) -> bool:
    query = select(Club.id).where(Club.name_key == name_key)
    if except_id is not None:
        query = query.where(Club.id != except_id)
    return (await tx.execute(query)).first() is not None


async def membership(tx: AsyncSession, club_id: int, user_id: int) -> ClubMember | None:
    return await tx.get(ClubMember, (club_id, user_id))


async def role_of(tx: AsyncSession, club_id: int, user_id: int) -> str | None:
    m = await membership(tx, club_id, user_id)
    return m.role if m is not None else None


async def set_role(
    tx: AsyncSession, club_id: int, user_id: int, role: str, now: datetime
) -> ClubMember:
    m = await membership(tx, club_id, user_id)
    if m is None:
        m = ClubMember(club_id=club_id, user_id=user_id, role=role, created_at=now)
        tx.add(m)
    else:
        m.role = role
    await tx.flush()
    return m


async def drop_membership(tx: AsyncSession, club_id: int, user_id: int) -> None:
    await tx.execute(
        delete(ClubMember).where(ClubMember.club_id == club_id, ClubMember.user_id == user_id)
    )


async def count_members(tx: AsyncSession, club_id: int) -> tuple[int, int]:
    """(members of any member role, followers only)."""
    query = (
        select(ClubMember.role, func.count())
        .where(ClubMember.club_id == club_id)
        .group_by(ClubMember.role)
    )
    rows = {role: int(n) for role, n in (await tx.execute(query)).all()}
    return sum(rows.get(r, 0) for r in MEMBER_ROLES), rows.get(ClubRole.FOLLOWER, 0)


async def manager_ids(tx: AsyncSession, club_id: int) -> list[int]:
    query = select(ClubMember.user_id).where(
        ClubMember.club_id == club_id, ClubMember.role.in_(MANAGER_ROLES)
    )
    return sorted((await tx.execute(query)).scalars())


async def members_page(
    tx: AsyncSession,
    club_id: int,
    roles: tuple[str, ...],
    after: Key | None,
    limit: int,
) -> tuple[list[tuple[ClubMember, User]], Key | None]:
    """People of the club in ``roles``, oldest membership first, after the key
    ``(created_at, user_id)``."""
    query = (
        select(ClubMember, User)
        .join(User, User.id == ClubMember.user_id)
        .where(ClubMember.club_id == club_id, ClubMember.role.in_(roles))
    )
    order = (ClubMember.created_at, ClubMember.user_id)
    rows, next_key = await keyset.page(tx, query, order, after, limit)
    return [(m, u) for m, u in rows], next_key


async def clubs_of(
    tx: AsyncSession, user_id: int, roles: tuple[str, ...], after: Key | None, limit: int
) -> tuple[list[tuple[Club, str]], Key | None]:
    """The person's clubs in ``roles`` with their role, by club id, after the key ``(id,)``."""
    query = (
        select(Club, ClubMember.role)
        .join(ClubMember, ClubMember.club_id == Club.id)
        .where(ClubMember.user_id == user_id, ClubMember.role.in_(roles))
    )
    rows, next_key = await keyset.page(tx, query, (Club.id,), after, limit)
    return [(c, r) for c, r in rows], next_key


# --- pending requests: applications, invitations, nominations -----------------------------


async def request(tx: AsyncSession, club_id: int, user_id: int) -> ClubRequest | None:
    return await tx.get(ClubRequest, (club_id, user_id))


async def put_request(
    tx: AsyncSession, club_id: int, user_id: int, kind: str, by_id: int | None, now: datetime
) -> ClubRequest:
    r = await request(tx, club_id, user_id)
    if r is None:
        r = ClubRequest(club_id=club_id, user_id=user_id, kind=kind, by_id=by_id, created_at=now)
        tx.add(r)
    else:
        r.kind, r.by_id, r.created_at = kind, by_id, now
    await tx.flush()
    return r


async def drop_request(tx: AsyncSession, club_id: int, user_id: int) -> None:
    await tx.execute(
        delete(ClubRequest).where(ClubRequest.club_id == club_id, ClubRequest.user_id == user_id)
    )


async def requests_page(
    tx: AsyncSession,
    club_id: int,
    kinds: tuple[str, ...],
    after: Key | None,
    limit: int,
) -> tuple[list[tuple[ClubRequest, User]], Key | None]:
    """Pending requests of ``kinds``, oldest first, after the key ``(created_at, user_id)``."""
    query = (
        select(ClubRequest, User)
        .join(User, User.id == ClubRequest.user_id)
        .where(ClubRequest.club_id == club_id, ClubRequest.kind.in_(kinds))
    )
    order = (ClubRequest.created_at, ClubRequest.user_id)
    rows, next_key = await keyset.page(tx, query, order, after, limit)
    return [(r, u) for r, u in rows], next_key


# --- search ---------------------------------------------------------------------------------

_FTS = table("clubs_fts", column("rowid"))
# Written exactly as in the GIN index of migration 0003, so the planner can use it.
_PG_DOCUMENT: Any = literal_column("to_tsvector('simple', clubs.name || ' ' || clubs.description)")
# Only computed for the rows the index found; the name weighs most, as on SQLite.
_PG_WEIGHTED: Any = literal_column(
    "setweight(to_tsvector('simple', clubs.name), 'A') || "
    "setweight(to_tsvector('simple', clubs.description), 'D')"
)


async def search(tx: AsyncSession, dialect: str, words: list[str], limit: int) -> list[Club]:
    """Clubs matching every word as a prefix, best first (the name weighs most)."""
    if dialect == "sqlite":
        # Each word is quoted, so FTS5 reads it as a plain string and the * as a prefix.
        match = " AND ".join(f'"{w}"*' for w in words)
        query = (
            select(Club)
            .join(_FTS, _FTS.c.rowid == Club.id)
            .where(text("clubs_fts MATCH :match").bindparams(match=match))
            .order_by(text("bm25(clubs_fts, 10.0, 1.0)"), Club.id)
        )
    else:
        # Quoted lexemes cannot be read as operators; the words hold no quotes.
        terms = " & ".join(f"'{w}':*" for w in words)
        tsquery = func.to_tsquery(literal_column("'simple'"), terms)
        query = (
            select(Club)
            .where(_PG_DOCUMENT.op("@@", is_comparison=True)(tsquery))
            .order_by(func.ts_rank(_PG_WEIGHTED, tsquery).desc(), Club.id)
        )
    return list((await tx.execute(query.limit(limit))).scalars())
