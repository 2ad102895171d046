"""Keyset pagination: opaque cursors, the ``limit`` parameter and the page body.

A cursor is the sort key of the last item on a page (for example ``(created_at, id)``),
serialised as JSON and base64url-encoded. It is opaque to clients but not secret: a
forged cursor can only move the starting point of a list the caller may read anyway.
Anything that does not decode to the expected shape is refused with 400 ``invalid_cursor``,
so a hand-made cursor never reaches the database with the wrong types.

A list route takes ``page: PageRequest = page_request(datetime, int)`` (the key's shape)
and answers ``page_body(items, next_key)``; the stores behind it use ``storage.keyset``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from townhall.errors import InvalidInput

MAX_CURSOR_CHARS = 512
_INT64 = 2**63
_STR_MAX = 200
_DATETIME_TAG = "dt"

Limit = Query(20, ge=1, le=100, description="How many items per page (1 to 100).")
Cursor = Query(
    None,
    min_length=1,
    max_length=MAX_CURSOR_CHARS,
    pattern="^[A-Za-z0-9_-]+={0,2}$",
    description="The `next_cursor` of the previous page.",
)

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


@dataclass(frozen=True)
class PageRequest:
    """A list's ``cursor`` and ``limit`` query parameters, read."""

    after: tuple[Any, ...] | None
    """The sort key to continue after, of the route's shape; None for the first page."""
    limit: int


def page_request(*shape: type) -> Any:
    """The dependency reading ``cursor`` (a key of ``shape``, e.g. ``(datetime, int)``)
    and ``limit``; a cursor of another shape is 400 ``invalid_cursor``."""

    def read(limit: int = Limit, cursor: str | None = Cursor) -> PageRequest:
        return PageRequest(decode_cursor(cursor, shape), limit)

    return Depends(read)


def page_body(items: list[T], next_key: tuple[Any, ...] | None) -> Page[T]:
    """One page of ``items``; ``next_key`` (None on the last page) becomes ``next_cursor``."""
    return Page(items=items, next_cursor=None if next_key is None else encode_cursor(next_key))


def encode_cursor(values: tuple[Any, ...]) -> str:
    """The opaque cursor for a sort key made of ints, strings, floats, bools, None or
    aware datetimes."""
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, shape: tuple[type, ...] | None = None
) -> tuple[Any, ...] | None:
    """The sort key inside ``cursor`` (None when there is no cursor).

    ``shape`` names the type of each element, e.g. ``(datetime, int)``; a cursor of any
    other length or types is refused. Raises ``InvalidInput("invalid_cursor")``.
    """
    if cursor is None:
        return None
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    if not isinstance(decoded, list) or not decoded:
        raise _invalid()
    values = tuple(_decode_value(v) for v in decoded)
    if shape is not None and not _fits(values, shape):
        raise _invalid()
    return values


def _invalid() -> InvalidInput:
    return InvalidInput("invalid_cursor", "That cursor is not valid; start from the first page.")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("cursors hold aware datetimes only")
        return {_DATETIME_TAG: value.isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a cursor cannot hold {type(value).__name__}")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        text = value.get(_DATETIME_TAG)
        if len(value) != 1 or not isinstance(text, str) or len(text) > 64:
            raise _invalid()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _invalid() from None
        if moment.tzinfo is None:
            raise _invalid()
        return moment
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise _invalid()
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid()
        return value
    if isinstance(value, str) and len(value) <= _STR_MAX:
        return value
    raise _invalid()


def _fits(values: tuple[Any, ...], shape: tuple[type, ...]) -> bool:
    if len(values) != len(shape):
        return False
    # bool is an int to Python, never to a cursor.
    return all(
        type(v) is t or (t is float and type(v) is int) for v, t in zip(values, shape, strict=True)
    )
