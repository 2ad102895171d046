"""Usernames (S1): what one may be, and how a typed one is read.

A username is 3 to 20 of ``a-z``, ``0-9`` and ``_``, unique case-insensitively (it is
stored lower-case). Sign-up, the operator's command line and every place that looks a
person up by name read it the same way: ``@Ada``, `` ada `` and ``ada`` are one person.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.errors import Conflict, InvalidInput
from townhall.storage import users as user_store
from townhall.storage.models import User

MIN_CHARS = 3
MAX_CHARS = 20
PATTERN = re.compile(rf"[a-z0-9_]{{{MIN_CHARS},{MAX_CHARS}}}")
RESERVED = frozenset(
    {
        "admin",
        "administrator",
        "api",
        "root",
        "staff",
        "support",
        "townhall",
        "moderator",
        "system",
        "help",
        "security",
        "abuse",
        "postmaster",
        "null",
        "undefined",
        "me",
        "search",
    }
)
"""Names nobody may choose (they read as the service speaking), answered as taken."""


def normalise(raw: str) -> str:
    """The name as stored: trimmed, without a leading ``@``, lower-case."""
    return raw.strip().removeprefix("@").lower()


def is_username(name: str) -> bool:
    """Whether the normalised ``name`` can be someone's username. Lookups ask this before
    the database (PostgreSQL refuses some characters, NUL for one, outright)."""
    return PATTERN.fullmatch(name) is not None


def lookup(raw: str) -> str | None:
    """The normalised name to look up, or None when ``raw`` cannot name anyone."""
    name = normalise(raw)
    return name if is_username(name) else None


def problem(name: str) -> str:
    """What is wrong with a name that cannot be a username, for the client to say in
    words: ``too_short``, ``too_long`` or ``characters`` (something other than a-z, 0-9, _)."""
    if any(not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_") for ch in name):
        return "characters"
    return "too_short" if len(name) < MIN_CHARS else "too_long"


def check(raw: str) -> str:
    """A username someone chooses, normalised; ``invalid_username`` or ``username_taken``."""
    name = normalise(raw)
    if not is_username(name):
        raise InvalidInput(
            "invalid_username",
            f"A username is {MIN_CHARS} to {MAX_CHARS} characters: "
            "lower-case letters, digits and underscores.",
            problem=problem(name),
            min=MIN_CHARS,
            max=MAX_CHARS,
        )
    if name in RESERVED:
        raise Conflict("username_taken", "That username is not available.")
    return name


async def find(tx: AsyncSession, raw: str) -> User | None:
    """The person ``raw`` names, or None; a string that cannot be a username never reaches
    the database."""
    name = lookup(raw)
    return await user_store.by_username(tx, name) if name else None


async def find_all(tx: AsyncSession, raw: list[str]) -> list[User]:
    """The people these names name; names that cannot be usernames name nobody."""
    names = [n for n in dict.fromkeys(normalise(r) for r in raw) if is_username(n)]
    return await user_store.by_usernames(tx, names) if names else []
