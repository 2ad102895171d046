"""Keyset pagination in SQL: the order of a list, the rows after a key, the next key.

A list is ordered by a few columns, each ascending or descending, the last of them unique
within the list (an id), so every row has one place. A page starts after the key of the
previous page's last row and fetches one row more than it returns: that row's presence says
there is a next page, without a second query. The key is read back from the database as
the sort columns' own values, so it holds exactly what the next page compares with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

Key = tuple[Any, ...]
"""The sort values of one row, in the order's order."""


def _parts(order: Sequence[Any]) -> list[tuple[ColumnElement[Any], bool]]:
    """(column, descending) for each term of an ORDER BY written as usual: ``Event.id``,
    ``Follow.created_at.desc()``."""
    parts = []
    for term in order:
        if isinstance(term, UnaryExpression) and term.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            parts.append((term.element, term.modifier is operators.desc_op))
        else:
            parts.append((term, False))
    return parts


def after(order: Sequence[Any], key: Key) -> ColumnElement[bool]:
    """Rows that come after ``key`` in ``order``: ``(a, b) > (x, y)`` spelt out as
    ``a > x OR (a = x AND b > y)``, with ``<`` for descending columns (portable, and each
    branch can use an index on the columns)."""
    parts = _parts(order)
    if len(key) != len(parts):
        raise ValueError(f"a key of {len(key)} values for an order of {len(parts)} columns")
    branches = []
    for i, (column, descending) in enumerate(parts):
        ties = [c == v for (c, _), v in zip(parts[:i], key[:i], strict=True)]
        beyond = column < key[i] if descending else column > key[i]
        branches.append(and_(*ties, beyond))
    return or_(*branches)


async def page(
    tx: AsyncSession,
    query: Select[*tuple[Any, ...]],
    order: Sequence[Any],
    key: Key | None,
    limit: int,
) -> tuple[list[tuple[Any, ...]], Key | None]:
    """Up to ``limit`` rows of ``query`` in ``order``, after ``key`` when given, and the key
    to continue after (None on the last page). ``query`` has no ORDER BY or LIMIT of its
    own; each row comes back as the tuple of what it selects."""
    parts = _parts(order)
    if key is not None:
        query = query.where(after(order, key))
    keyed = query.add_columns(*(c.label(f"keyset_{i}") for i, (c, _) in enumerate(parts)))
    result = await tx.execute(keyed.order_by(*order).limit(limit + 1))
    rows = [tuple(row) for row in result.all()]
    n = len(parts)
    more = len(rows) > limit
    rows = rows[:limit]
    next_key = rows[-1][-n:] if more and rows else None
    return [row[:-n] for row in rows], next_key
