"""Deleting an account (S1): out of every room by the room rules, signed out, then erased.

The order matters. Signing out everywhere first means no request or socket authenticates
as the person again, so nothing new begins while they are taken out of their rooms. Each
room is left exactly as leaving does (``member.left`` is published, a room without a
moderator starts its grace period, an empty room ends). Only then is the account erased,
and with it their name where others keep it: room event logs and notifications. (The audit
log is append-only: operators' records keep the name at the time, docs/operations.md.)
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.domain import usernames
from townhall.domain.avatars import Pictures
from townhall.domain.rooms.service import Rooms
from townhall.domain.standing import Reason, Standing
from townhall.errors import InvalidInput, Unauthenticated
from townhall.storage import auth as auth_store
from townhall.storage import export as person_store
from townhall.storage import rooms as room_store
from townhall.storage.db import Database
from townhall.storage.models import User

logger = logging.getLogger(__name__)

PEOPLE_KEYS = frozenset(
    {"username", "by", "target", "users", "usernames", "hosts", "followed_by_speakers"}
)
"""Keys of event and notification data whose values are usernames (or lists of them)."""

ATTEMPTS = 3
"""Rounds of leaving rooms: a join already under way when the sessions went may land."""


def alias() -> str:
    """What a deleted person is called in logs others keep: the same in every event of
    theirs, so a replayed log still pairs each join with its leave, and never a username
    anyone can take (a username has no hyphen)."""
    return f"deleted-{secrets.token_hex(4)}"


def scrub(value: Any, username: str, alias: str) -> Any:
    """``value`` (JSON data) without ``username``: where a key names people it becomes
    ``alias``, in lists it is dropped, and a person view of theirs loses its name and face."""
    if isinstance(value, list):
        return [scrub(v, username, alias) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key in PEOPLE_KEYS and v == username:
            out[key] = alias
        elif key in PEOPLE_KEYS and isinstance(v, list):
            out[key] = [x for x in v if x != username]
        else:
            out[key] = scrub(v, username, alias)
    if value.get("username") == username:
        for key in ("display_name", "avatar_url"):
            if key in out:
                out[key] = "" if key == "display_name" else None
    return out


class Erasure:
    def __init__(
        self, db: Database, clock: Clock, standing: Standing, rooms: Rooms, pictures: Pictures
    ) -> None:
        self._db = db
        self._clock = clock
        self._standing = standing
        self._rooms = rooms
        self._pictures = pictures

    async def delete_account(self, user: User, confirm: str) -> None:
        """Delete the account for good, once the person has typed their username."""
        if usernames.normalise(confirm) != user.username:
            raise InvalidInput(
                "confirmation_mismatch", "Type your username exactly to delete your account."
            )
        async with self._db.transaction() as tx:
            await self._lock(tx, user)
            await auth_store.delete_sessions(tx, user.id)
        await self._close_sockets(user)
        for _ in range(ATTEMPTS):
            await self._rooms.leave_all(user)
            if await self._erase(user):
                break
        else:
            raise RuntimeError(f"user {user.id} kept joining rooms while being deleted")
        # A sign-in that raced the sessions' deletion may have opened a socket meanwhile.
        await self._close_sockets(user)
        logger.info("user %s deleted their account", user.id)

    async def _erase(self, user: User) -> bool:
        """Erase the account unless they are in a room again; True once it is gone."""
        name = alias()
        async with self._db.transaction() as tx:
            # On PostgreSQL this lock also waits for a membership being inserted meanwhile
            # (the insert holds a key-share lock on the row), so the check below sees it.
            me = await self._lock(tx, user)
            if await room_store.rooms_of(tx, user.id):
                return False
            events, notes = await person_store.mentions(tx, me.username)
            for event in events:
                event.data = scrub(event.data, me.username, name)
                event.audience = scrub(event.audience, me.username, name)
            for note in notes:
                note.data = scrub(note.data, me.username, name)
            await tx.flush()
            avatar = me.avatar
            await person_store.erase(tx, me, self._clock.now())
        self._pictures.discard(avatar)
        return True

    async def _close_sockets(self, user: User) -> None:
        # Their sockets (4401) and audio connections end in every process.
        await self._standing.changed([user.id], Reason.DELETED)

    async def _lock(self, tx: AsyncSession, user: User) -> User:
        me = await person_store.user_for_update(tx, user.id)
        if me is None:
            # Deleted by a concurrent request since this one authenticated.
            raise Unauthenticated("not_signed_in", "Sign in to continue.")
        return me
