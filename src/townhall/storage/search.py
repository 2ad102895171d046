"""Full-text search behind one interface per dialect: SQLite FTS5 or PostgreSQL full-text.

People (below), live rooms and events (at the end; clubs are in ``storage/clubs.py``).
All take the same input: words made only of letters and digits (the domain strips
everything else), each matched as a word prefix, all of them required. Both rank the same
way: an exact username first, then the text rank with the username weighing most, then the
display name, then the bio; ties go to the older account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Select,
    and_,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from townhall.storage.clubs import MEMBER_ROLES
from townhall.storage.graph import visible_to
from townhall.storage.models import Block, ClubMember, Event, EventHost, Room, User


class PeopleSearch(Protocol):
    def statement(self, words: list[str], exact: str, viewer_id: int, limit: int) -> Select[User]:
        """Up to ``limit`` people matching every word as a prefix, best first; ``exact``
        is the whole query as a username. People with a block either way with the
        viewer are left out."""
        ...


async def find_people(
    tx: AsyncSession,
    search: PeopleSearch,
    words: list[str],
    exact: str,
    viewer_id: int,
    limit: int,
) -> list[User]:
    return list((await tx.execute(search.statement(words, exact, viewer_id, limit))).scalars())


def people_search_for(dialect: str) -> PeopleSearch:
    """The implementation for a database dialect (``Database.dialect``)."""
    if dialect == "sqlite":
        return SqlitePeopleSearch()
    if dialect == "postgresql":
        return PostgresPeopleSearch()
    raise ValueError(f"no people search for the {dialect!r} dialect")


class SqlitePeopleSearch:
    """FTS5 over the external-content table ``users_fts`` (kept in sync by triggers)."""

    _fts = table("users_fts", column("rowid"))

    def statement(self, words: list[str], exact: str, viewer_id: int, limit: int) -> Select[User]:
        # Each word is quoted, so FTS5 reads it as a plain string and the * as a prefix.
        match = " AND ".join(f'"{w}"*' for w in words)
        return (
            select(User)
            .join(self._fts, self._fts.c.rowid == User.id)
            .where(
                text("users_fts MATCH :match").bindparams(match=match),
                User.status == "member",
                visible_to(viewer_id, User.id),
            )
            .order_by(
                (User.username == exact).desc(),
                # Column weights: username, display name, bio.
                text("bm25(users_fts, 10.0, 4.0, 1.0)"),
                User.id,
            )
            .limit(limit)
        )


# Written exactly as in the GIN index of migration 0001, so the planner can use it.
_PG_DOCUMENT: ColumnClause[Any] = literal_column(
    "to_tsvector('simple', username || ' ' || display_name || ' ' || bio)"
)
# Only computed for the rows the index found; weights as for SQLite.
_PG_WEIGHTED: ColumnClause[Any] = literal_column(
    "setweight(to_tsvector('simple', username), 'A') || "
    "setweight(to_tsvector('simple', display_name), 'B') || "
    "setweight(to_tsvector('simple', bio), 'D')"
)


class PostgresPeopleSearch:
    """``to_tsquery`` prefix terms against the indexed ``to_tsvector`` expression."""

    def statement(self, words: list[str], exact: str, viewer_id: int, limit: int) -> Select[User]:
        # Quoted lexemes cannot be read as operators; the words hold no quotes.
        terms = " & ".join(f"'{w}':*" for w in words)
        tsquery = func.to_tsquery(literal_column("'simple'"), terms)
        matches = _PG_DOCUMENT.op("@@", is_comparison=True)(tsquery)
        return (
            select(User)
            # ``<>`` rather than ``= 'member'``: the status index must not tempt the planner
            # away from the text index (people are almost all members).
            .where(matches, User.status != "waitlisted", visible_to(viewer_id, User.id))
            .order_by(
                (User.username == exact).desc(),
                func.ts_rank(_PG_WEIGHTED, tsquery).desc(),
                User.id,
            )
            .limit(limit)
        )


def _fts_match(words: list[str]) -> str:
    # Each word is quoted, so FTS5 reads it as a plain string and the * as a prefix.
    return " AND ".join(f'"{w}"*' for w in words)


def _tsquery(words: list[str]) -> Any:
    # Quoted lexemes cannot be read as operators; the words hold no quotes.
    return func.to_tsquery(literal_column("'simple'"), " & ".join(f"'{w}':*" for w in words))


# --- live rooms -------------------------------------------------------------------------------

_ROOMS_FTS = table("rooms_fts", column("room_id"))
# Written exactly as in the partial GIN index of migration 0010, with its predicate.
_PG_ROOM_TITLE: Any = literal_column("to_tsvector('simple', rooms.title)")


async def live_rooms_matching(
    tx: AsyncSession, dialect: str, words: list[str], limit: int
) -> list[str]:
    """Ids of up to ``limit`` live rooms whose title has every word as a prefix, best first.
    Who may see each is the hallway's business (``domain/hallway.py``)."""
    if dialect == "sqlite":
        query = (
            select(_ROOMS_FTS.c.room_id)
            .select_from(_ROOMS_FTS)
            .join(Room, Room.id == _ROOMS_FTS.c.room_id)
            .where(text("rooms_fts MATCH :match").bindparams(match=_fts_match(words)))
            .where(Room.status == "live")
            .order_by(text("bm25(rooms_fts)"), Room.created_at.desc())
        )
    else:
        tsquery = _tsquery(words)
        query = (
            select(Room.id)
            .where(Room.status == "live", _PG_ROOM_TITLE.op("@@", is_comparison=True)(tsquery))
            .order_by(func.ts_rank(_PG_ROOM_TITLE, tsquery).desc(), Room.created_at.desc())
        )
    return [str(r) for r in (await tx.execute(query.limit(limit))).scalars()]


# --- events -----------------------------------------------------------------------------------

_EVENTS_FTS = table("events_fts", column("rowid"))
# Written exactly as in the GIN index of migration 0010, so the planner can use it.
_PG_EVENT_DOCUMENT: Any = literal_column(
    "to_tsvector('simple', events.name || ' ' || events.description)"
)
_PG_EVENT_WEIGHTED: Any = literal_column(
    "setweight(to_tsvector('simple', events.name), 'A') || "
    "setweight(to_tsvector('simple', events.description), 'D')"
)


def _event_visible_to(viewer_id: int, since: datetime) -> Any:
    """Upcoming (or started less than the listing's grace ago) and not cancelled;
    members-only ones for the club's members; none with a host who blocked the viewer or
    whom the viewer blocked."""
    member_of = select(ClubMember.club_id).where(
        ClubMember.user_id == viewer_id, ClubMember.role.in_(MEMBER_ROLES)
    )
    blocked_host = exists().where(
        EventHost.event_id == Event.id,
        EventHost.state == "host",
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == EventHost.user_id),
            and_(Block.blocker_id == EventHost.user_id, Block.blocked_id == viewer_id),
        ),
    )
    return and_(
        Event.status != "cancelled",
        Event.starts_at > since,
        or_(Event.members_only == false(), Event.club_id.in_(member_of)),
        ~blocked_host,
    )


async def events_matching(
    tx: AsyncSession, dialect: str, words: list[str], viewer_id: int, since: datetime, limit: int
) -> list[Event]:
    """Up to ``limit`` events the viewer may see whose name or description has every word
    as a prefix, best first (the name weighs most), then soonest."""
    if dialect == "sqlite":
        query = (
            select(Event)
            .join(_EVENTS_FTS, _EVENTS_FTS.c.rowid == Event.id)
            .where(text("events_fts MATCH :match").bindparams(match=_fts_match(words)))
            .order_by(text("bm25(events_fts, 10.0, 1.0)"), Event.starts_at, Event.id)
        )
    else:
        tsquery = _tsquery(words)
        query = (
            select(Event)
            .where(_PG_EVENT_DOCUMENT.op("@@", is_comparison=True)(tsquery))
            .order_by(func.ts_rank(_PG_EVENT_WEIGHTED, tsquery).desc(), Event.starts_at, Event.id)
        )
    query = query.where(_event_visible_to(viewer_id, since)).limit(limit)
    return list((await tx.execute(query)).scalars())
