"""S2.3 "let them in": opt-in contact matching, and members letting in waitlisted contacts.

A member uploads their address book as hashes (SHA-256 of each trimmed, lower-cased
address, see ``townhall.security.email_hash``). The hashes are matched against the people
who signed up and then dropped: only the matches are kept, and each upload replaces the
previous ones. A waitlisted person among the matches can be let in by that member without
spending an invite; the member becomes their nominator.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import usernames
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.invites import require_member
from townhall.domain.standing import Reason, Standing
from townhall.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from townhall.ratelimit import RateLimiter
from townhall.storage import contacts as contact_store
from townhall.storage import graph as graph_store
from townhall.storage import waitlist as waitlist_store
from townhall.storage.db import Database
from townhall.storage.models import User

logger = logging.getLogger(__name__)

CONTACT_HASH = re.compile(r"^[0-9a-f]{64}$")

ADMITTED = "waitlist.admitted"
"""The happening of people let in from the waitlist: their inbox and live socket hear it
(the waitlist screen turns into the app by itself) and a mail tells them (docs/invitations.md)."""


def admitted_happening(user_ids: list[int], by: User | None = None) -> Happening:
    """``user_ids`` were let in, by the member ``by`` or by an operator (None)."""
    return Happening(ADMITTED, Recipients(users=tuple(user_ids)), actor_id=by.id if by else None)


async def follow_nominator(
    tx: AsyncSession, newcomer_id: int, nominator_id: int, now: datetime
) -> None:
    """A new member follows whoever let them in (an invite or "let them in"), as they would
    have done first anyway; never across a block. The nominator is not told: they hear
    that their invitee joined."""
    if newcomer_id == nominator_id:
        return
    await graph_store.lock_pair(tx, newcomer_id, nominator_id)
    if await graph_store.blocks(tx, newcomer_id, nominator_id) or await graph_store.blocks(
        tx, nominator_id, newcomer_id
    ):
        return
    await graph_store.add_follow(tx, newcomer_id, nominator_id, now)


class Waitlist:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
        happenings: Happenings,
        standing: Standing,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._happenings = happenings
        self._standing = standing

    async def share_contacts(self, user: User, hashes: list[str]) -> int:
        """Replace the member's contact matches with those ``hashes`` point at; how many
        distinct hashes were shared. How many matched is not said: one hash, one answer,
        would tell whether an address has an account."""
        require_member(user)
        if len(hashes) > self._settings.contacts_max_hashes:
            raise TooLarge(
                "too_many_contacts",
                f"Send at most {self._settings.contacts_max_hashes} contacts at a time.",
                max=self._settings.contacts_max_hashes,
            )
        if not all(CONTACT_HASH.match(h) for h in hashes):
            raise InvalidInput(
                "invalid_contact_hash",
                "Each contact is the lower-case hex SHA-256 of a trimmed, lower-cased address.",
            )
        distinct = set(hashes)
        await self._limiter.hit(
            f"contacts:{user.id}", self._settings.limit_contact_uploads_per_user
        )
        # The daily budget of addresses one person may test. The hashes themselves are not
        # kept, so sharing the same book again counts again.
        await self._limiter.hit(
            f"contact-hashes:{user.id}",
            self._settings.limit_contact_hashes_per_user,
            cost=len(distinct),
        )
        now = self._clock.now()
        limit = self._settings.contacts_max_hashes
        async with self._db.transaction() as tx:
            await contact_store.lock_owner(tx, user.id)
            before, _ = await contact_store.waitlisted_of(tx, user.id, None, limit)
            matched = await contact_store.replace(tx, user.id, distinct, now)
            after, _ = await contact_store.waitlisted_of(tx, user.id, None, limit)
            known = {u.id for u in before}
            new = [u.username for u in after if u.id not in known]
            if new:
                found = Happening(
                    "contact.waitlisted",
                    Recipients(users=(user.id,)),
                    data={"usernames": new[:3], "count": len(new)},
                )
                await self._happenings.record(tx, found)
        logger.info("user %s shared contacts: %s matched", user.id, matched)
        return len(distinct)

    async def forget_contacts(self, user: User) -> None:
        """Drop every contact match the person has; anyone may, member or not."""
        async with self._db.transaction() as tx:
            await contact_store.clear(tx, user.id)

    async def waitlisted_contacts(
        self, user: User, after: tuple[str] | None, limit: int
    ) -> tuple[list[User], tuple[str] | None]:
        """Waitlisted people in the member's contacts, by username, and the key
        ``(username,)`` to continue after (None on the last page)."""
        require_member(user)
        async with self._db.transaction() as tx:
            return await contact_store.waitlisted_of(tx, user.id, after, limit)

    async def let_in(self, user: User, username: str) -> User:
        """Let a waitlisted contact in without spending an invite; ``user`` nominates them."""
        require_member(user)
        name = usernames.normalise(username)
        await self._limiter.hit(f"let-in:{user.id}", self._settings.limit_let_ins_per_user)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            target = await usernames.find(tx, name)
            if target is None:
                raise NotFound("user_not_found", f"No one is called @{name}.")
            if target.status == "member":
                raise Conflict("already_member", f"@{name} is already a member.")
            if not await contact_store.is_contact(tx, user.id, target.id):
                raise Forbidden("not_in_contacts", f"@{name} is not in the contacts you shared.")
            admitted = await waitlist_store.admit(
                tx, [target.id], now, self._settings.invites_per_member, nominator_id=user.id
            )
            if not admitted:
                raise Conflict("already_member", f"@{name} is already a member.")
            await follow_nominator(tx, target.id, user.id, now)
            await self._happenings.record(tx, admitted_happening([target.id], user))
            await tx.refresh(target)
        await self._standing.changed([target.id], Reason.STATUS)
        logger.info("user %s let in user %s", user.id, target.id)
        return target
