"""A person's standing: whether their sessions hold and what their account may do, and the
signal on the bus that it changed, which every process obeys (docs/security.md, item 2).

The services that change someone's standing (signing out, an operator's action, deleting
the account) call ``Standing.changed`` once their transaction has committed. Each process
closes the sockets concerned and drops their audio connections; a process that missed the
signal (a Redis reconnection) catches up in its next sweep, which reads every open socket's
session and person in one query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import Any

from sqlalchemy import inspect

from townhall.bus import EventBus, channels
from townhall.clock import Clock
from townhall.errors import Forbidden
from townhall.storage import auth as auth_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import User
from townhall.vocabulary import UserStatus

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
"""Sessions read per query in a sweep."""


class Reason(StrEnum):
    SIGNED_OUT = "signed_out"
    """Some or all of the person's sessions were revoked."""
    STATUS = "status"
    """An operator changed what the account is (approved, sent back, suspended, banned,
    reinstated); readers look the person up again."""
    DELETED = "deleted"
    """The account is gone."""


RANKS: dict[str, int] = {UserStatus.MEMBER: 2, UserStatus.WAITLISTED: 1}
"""What each status may do, compared; any other status ranks below all."""


def restriction(user: User, now: datetime) -> Forbidden | None:
    """The refusal a banned or suspended person meets everywhere (docs/safety.md), or None.

    A suspension ends by itself: it is read against the clock, so no job lifts it."""
    if user.banned_at is not None:
        return Forbidden("banned", "This account is banned.")
    if user.suspended_until is not None and user.suspended_until > now:
        return Forbidden(
            "suspended",
            "This account is suspended for now.",
            until=user.suspended_until.isoformat(),
        )
    return None


def require_good_standing(user: User, now: datetime) -> None:
    refusal = restriction(user, now)
    if refusal is not None:
        raise refusal


def lowered(before: User, after: User | None, now: datetime) -> bool:
    """True when ``after`` may do less than ``before``: a socket opened as ``before`` closes,
    while one that gained (an approval) carries on as ``after``. A suspension or a ban
    lowers anyone."""
    if after is None or restriction(after, now) is not None:
        return True
    if RANKS.get(after.status, 0) < RANKS.get(before.status, 0):
        return True
    return before.staff_role is not None and after.staff_role != before.staff_role


def may_use_audio(user: User | None, now: datetime) -> bool:
    """Audio connections are for people in rooms, which only members in good standing enter."""
    return user is not None and user.status == UserStatus.MEMBER and restriction(user, now) is None


class Standing:
    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus

    async def changed(
        self, users: Iterable[int], reason: Reason, sessions: Iterable[int] | None = None
    ) -> None:
        """Tell every process; called after the change has committed. Never raises: the
        change stands, and a process that misses this catches up in its next sweep."""
        ids = sorted(set(users))
        if not ids:
            return
        payload = channels.standing(ids, reason, None if sessions is None else sorted(sessions))
        try:
            await self._bus.publish(channels.STANDING, payload)
        except Exception:
            logger.exception("telling the processes that %s people %s failed", len(ids), reason)

    def now(self) -> datetime:
        return self._clock.now()

    async def people(self, user_ids: list[int]) -> dict[int, User]:
        """The people as they are now; the deleted are missing."""
        async with self._db.transaction() as tx:
            return await user_store.by_ids(tx, user_ids)

    async def holders(
        self, session_ids: list[int], known: Mapping[int, User] | None = None
    ) -> dict[int, User]:
        """Session id → its person now, for the sessions still valid; in batches.

        ``known`` (by user id) are the people as the caller holds them: one whose standing
        and looks (``auth_store.HOLDER_COLUMNS``) have not changed is given back as that
        same object. The sweep reads thousands of people every few seconds and nearly all
        are as they were; a few plain columns cost a fraction of whole ORM objects, which
        are read only for those who changed."""
        found: dict[int, User] = {}
        now = self._clock.now()
        known = known or {}
        for start in range(0, len(session_ids), SWEEP_BATCH):
            batch = session_ids[start : start + SWEEP_BATCH]
            async with self._db.transaction() as tx:
                rows = await auth_store.holder_rows(tx, batch, now)
                changed: dict[int, int] = {}
                for sid, row in rows.items():
                    mine = known.get(row.id)
                    if mine is not None and _held(mine) == tuple(row)[1:]:
                        found[sid] = mine
                    else:
                        changed[sid] = row.id
                if changed:
                    fresh = await user_store.by_ids(tx, sorted(set(changed.values())))
                    found.update({sid: fresh[uid] for sid, uid in changed.items() if uid in fresh})
        return found


_held_columns = itemgetter(*(c.key for c in auth_store.HOLDER_COLUMNS))


def _held(user: User) -> tuple[Any, ...] | None:
    """A person's ``HOLDER_COLUMNS`` as held in memory, in that order (None when some were
    never loaded)."""
    try:
        return tuple(_held_columns(inspect(user).dict))
    except KeyError:
        return None
