"""S2.4 operator tools: the waitlist queue, approvals, invite grants and cancellations.

Every action here writes one or more rows to the append-only audit log, in the same
transaction as the change itself, so the log can never miss an action that happened nor
record one that was rolled back. The same service backs the admin API and the command line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import usernames as username_rules
from townhall.domain.happenings import Happenings
from townhall.domain.invites import cancel as cancel_invite
from townhall.domain.standing import Reason, Standing
from townhall.domain.waitlist import admitted_happening
from townhall.errors import Conflict, Forbidden, InvalidInput, NotFound
from townhall.storage import audit as audit_store
from townhall.storage import invites as invite_store
from townhall.storage import users as user_store
from townhall.storage import waitlist as waitlist_store
from townhall.storage.audit import user_target
from townhall.storage.db import Database
from townhall.storage.models import AuditEntry, Invite, User
from townhall.storage.waitlist import SENT_BACK
from townhall.vocabulary import StaffRole

logger = logging.getLogger(__name__)

MAX_BULK = 500
"""The most people one approval may name; ``approve_all`` works in batches of this size."""
INVITES_LEFT_MAX = 10_000
"""No one holds more unsent invites than this, however many are granted."""


@dataclass(frozen=True)
class Actor:
    """Who performs an operator action, as the audit log records it."""

    id: int | None
    """The staff member's user id; None for the command line."""
    name: str

    @classmethod
    def staff(cls, user: User) -> Actor:
        if user.staff_role != "admin":
            raise Forbidden("not_staff", "Only instance administrators can do this.")
        return cls(user.id, user.username)

    @classmethod
    def safety(cls, user: User) -> Actor:
        """Staff of either role: trust and safety, or an administrator."""
        if user.staff_role not in (StaffRole.ADMIN, StaffRole.TRUST_SAFETY):
            raise Forbidden("not_staff", "Only staff can do this.")
        return cls(user.id, user.username)


CLI = Actor(None, "cli")


@dataclass(frozen=True)
class Waiting:
    user: User
    sent_back: bool
    """An operator sent them back to the waitlist once (see ``cancel_invite_tree``)."""


@dataclass(frozen=True)
class Approval:
    approved: list[str]
    already_members: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class TreeCancellation:
    root: str
    cancelled_invites: int
    people_below: int
    """How many people joined through the root's invites, directly or further down."""
    demoted: list[str] = field(default_factory=list)


class Operators:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        standing: Standing,
        happenings: Happenings,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._standing = standing
        self._happenings = happenings

    def _entry(
        self, actor: Actor, action: str, target: str, now: datetime, **data: Any
    ) -> AuditEntry:
        return AuditEntry(
            actor_id=actor.id,
            actor=actor.name,
            action=action,
            target=target,
            data=data,
            created_at=now,
        )

    async def _user(self, tx: AsyncSession, username: str) -> User:
        user = await username_rules.find(tx, username)
        if user is None:
            raise NotFound(
                "user_not_found", f"No one is called @{username_rules.normalise(username)}."
            )
        return user

    # --- the waitlist -------------------------------------------------------------------

    async def waitlist(
        self, after: tuple[datetime, int] | None, limit: int
    ) -> tuple[list[Waiting], tuple[datetime, int] | None]:
        """Waitlisted people, the longest waiting first, and the key to continue after
        (None on the last page)."""
        async with self._db.transaction() as tx:
            rows, next_key = await waitlist_store.page(tx, after, limit)
        return [Waiting(user, sent_back) for user, sent_back in rows], next_key

    async def approve(self, actor: Actor, usernames: list[str]) -> Approval:
        """Let the named people in. Names that match no one are reported, not fatal."""
        names = list(dict.fromkeys(username_rules.normalise(u) for u in usernames if u.strip()))
        if not names:
            raise InvalidInput("no_usernames", "Name at least one person to approve.")
        if len(names) > MAX_BULK:
            raise InvalidInput(
                "too_many_usernames", f"Approve at most {MAX_BULK} people at a time."
            )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            people = await username_rules.find_all(tx, names)
            found = {u.username for u in people}
            waiting = [u.id for u in people if u.status == "waitlisted"]
            approved = await waitlist_store.admit(
                tx, waiting, now, self._settings.invites_per_member
            )
            await self._log_approvals(tx, actor, approved, now)
            if approved:
                await self._happenings.record(tx, admitted_happening(list(approved.values())))
        # Their open sockets act as members from now on.
        await self._standing.changed(approved.values(), Reason.STATUS)
        return Approval(
            approved=list(approved),
            already_members=sorted(n for n in found if n not in approved),
            unknown=[n for n in names if n not in found],
        )

    async def approve_all(self, actor: Actor) -> tuple[list[str], int]:
        """Let in everyone waiting, in batches; also how many were left waiting because
        an operator had sent them back to the waitlist (approve those by name)."""
        approved: list[str] = []
        while True:
            now = self._clock.now()
            async with self._db.transaction() as tx:
                ids = await waitlist_store.next_batch(tx, MAX_BULK)
                if not ids:
                    left = await waitlist_store.count_sent_back(tx)
                    break
                admitted = await waitlist_store.admit(
                    tx, ids, now, self._settings.invites_per_member
                )
                await self._log_approvals(tx, actor, admitted, now)
                if admitted:
                    await self._happenings.record(tx, admitted_happening(list(admitted.values())))
            await self._standing.changed(admitted.values(), Reason.STATUS)
            approved.extend(admitted)
        return approved, left

    async def _log_approvals(
        self,
        tx: AsyncSession,
        actor: Actor,
        admitted: dict[str, int],
        now: datetime,
    ) -> None:
        await audit_store.append(
            tx,
            [
                self._entry(actor, "waitlist.approve", user_target(uid), now, username=name)
                for name, uid in admitted.items()
            ],
        )
        if admitted:
            logger.info("%s approved %s people from the waitlist", actor.name, len(admitted))

    # --- invites ------------------------------------------------------------------------

    async def grant_invites(self, actor: Actor, username: str, count: int) -> User:
        """Give a member ``count`` more invites to send."""
        most = self._settings.invites_max_grant
        if not 1 <= count <= most:
            raise InvalidInput("invalid_count", f"Grant between 1 and {most} invites at a time.")
        now = self._clock.now()
        async with self._db.transaction() as tx:
            user = await self._user(tx, username)
            if user.status != "member":
                raise Conflict(
                    "not_a_member",
                    f"@{user.username} is on the waitlist; approve them first.",
                )
            if not await invite_store.add_to_quota(tx, user.id, count, INVITES_LEFT_MAX):
                raise Conflict(
                    "too_many_invites",
                    f"No one can hold more than {INVITES_LEFT_MAX} unsent invites.",
                )
            await tx.refresh(user)
            await audit_store.append(
                tx,
                [
                    self._entry(
                        actor,
                        "invites.grant",
                        user_target(user.id),
                        now,
                        username=user.username,
                        count=count,
                        invites_left=user.invites_left,
                    )
                ],
            )
        return user

    async def cancel_invite(self, actor: Actor, invite_id: int) -> Invite:
        """Cancel any unused invite. Its sender does not get it back."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            invite = await invite_store.by_id(tx, invite_id)
            if invite is None:
                raise NotFound("invite_not_found", "That invite does not exist.")
            await cancel_invite(tx, invite, now)
            inviter = await user_store.by_id(tx, invite.inviter_id)
            await audit_store.append(
                tx,
                [
                    self._entry(
                        actor,
                        "invite.cancel",
                        f"invite:{invite.id}",
                        now,
                        inviter=user_target(invite.inviter_id),
                        inviter_username=inviter.username if inviter else None,
                    )
                ],
            )
        return invite

    async def cancel_invite_tree(
        self, actor: Actor, username: str, *, demote: bool = False
    ) -> TreeCancellation:
        """Cancel every unused invite sent by this person and by everyone who joined below
        them, and take away their remaining invites. With ``demote``, the people who joined
        below them (never the person themselves, never staff) go back to the waitlist."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            root = await self._user(tx, username)
            # Invites first, so that no one can join through them while the rest happens.
            cancelled = await invite_store.cancel_pending_in_tree(tx, root.id, now)
            below = await invite_store.tree_size(tx, root.id)
            await invite_store.clear_quota_in_tree(tx, root.id)
            demoted: dict[str, int] = {}
            if demote:
                below_ids = await waitlist_store.members_below(tx, root.id)
                demoted = await waitlist_store.send_back(tx, below_ids)
            result = TreeCancellation(
                root=root.username,
                cancelled_invites=cancelled,
                people_below=below,
                demoted=list(demoted),
            )
            entries = [
                self._entry(
                    actor,
                    "invite_tree.cancel",
                    user_target(root.id),
                    now,
                    username=root.username,
                    demote=demote,
                    cancelled_invites=cancelled,
                    people_below=below,
                    demoted=list(demoted),
                )
            ]
            entries += [
                self._entry(
                    actor,
                    SENT_BACK,
                    user_target(uid),
                    now,
                    username=name,
                    tree_of=user_target(root.id),
                )
                for name, uid in demoted.items()
            ]
            await audit_store.append(tx, entries)
        # Their sockets close (4401) and their audio ends, in every process.
        await self._standing.changed(demoted.values(), Reason.STATUS)
        logger.info(
            "%s cancelled the invite tree of user %s: %s invites, %s demoted",
            actor.name,
            root.id,
            cancelled,
            len(demoted),
        )
        return result

    # --- the audit log ------------------------------------------------------------------

    async def audit(
        self,
        after: tuple[int] | None,
        limit: int,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> tuple[list[AuditEntry], tuple[int] | None]:
        """The audit log, newest first, and the key ``(id,)`` to continue after (None at
        the end); only the entries by ``actor`` (a username, or ``cli``), of ``action``,
        about ``target`` (``user:<id>``, ``report:<id>``, ``room:<id>`` ...) when given."""
        async with self._db.transaction() as tx:
            return await audit_store.page(
                tx, after, limit, actor=actor, action=action, target=target
            )
