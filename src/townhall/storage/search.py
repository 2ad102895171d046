"""People search behind one interface: SQLite FTS5 or PostgreSQL full-text, by dialect.

Both take the same input: words made only of letters and digits (the domain strips
everything else), each matched as a word prefix, all of them required. Both rank the same
way: an exact username first, then the text rank with the username weighing most, then the
display name, then the bio; ties go to the older account.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select, column, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from townhall.storage.graph import visible_to
from townhall.storage.models import User


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
