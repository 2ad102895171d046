"""Staff actions (S8): closing reports, warnings, suspensions, bans, ending rooms, the
verified badge. Each needs a reason and writes the append-only audit log in the same
transaction as the change.

A suspension or a ban takes effect at once everywhere: the account row says so (HTTP and
new sockets refuse the person from the next request on, ``domain.standing.restriction``),
and after the commit the standing signal closes their open sockets (4401) and ends their
audio on every process, then they are taken out of every live room they are in. A
suspension ends by itself when its time passes: it is read against the clock.

Staff never act on a report they filed, nor on themselves; only an administrator acts on
another member of staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.domain import usernames as username_rules
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.operators import Actor
from townhall.domain.rooms.service import Rooms
from townhall.domain.standing import Reason, Standing
from townhall.errors import Conflict, Forbidden, InvalidInput, NotFound
from townhall.storage import audit as audit_store
from townhall.storage import safety as store
from townhall.storage import users as user_store
from townhall.storage.audit import user_target
from townhall.storage.db import Database
from townhall.storage.models import AuditEntry, Report, Sanction, User
from townhall.vocabulary import ReportStatus, SanctionKind, StaffRole

logger = logging.getLogger(__name__)

REASON_MAX = 1000
MESSAGE_MAX = 1000
SUSPENSION_MAX = timedelta(days=3650)

REPORT_ACTIONS = ("dismiss", "resolve", "warn", "suspend", "ban")
"""What staff may do with a report: close it with no action, close it as acted on
otherwise (the room was ended, say), or sanction the person reported."""
USER_ACTIONS = ("warn", "suspend", "ban", "reinstate")

SANCTION_OF = {
    "warn": SanctionKind.WARN,
    "suspend": SanctionKind.SUSPEND,
    "ban": SanctionKind.BAN,
    "reinstate": SanctionKind.REINSTATE,
}
OUTCOME_OF = {
    "dismiss": "dismissed",
    "resolve": "resolved",
    "warn": "warned",
    "suspend": "suspended",
    "ban": "banned",
}
"""A closed report's ``outcome``, for staff."""

WARNED = "account.warned"
"""The notification kind a warned person gets."""
REPORT_OUTCOME = "report.outcome"


@dataclass(frozen=True)
class ActionRequest:
    action: str
    reason: str
    until: datetime | None = None
    """The end of a suspension."""
    message: str = ""
    """Words for the person warned or suspended (the reason stays with staff)."""


def told_outcome(action: str) -> str:
    """What the reporter is told: that something was done or not, never what."""
    return "no_action" if action == "dismiss" else "action_taken"


class StaffActions:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        standing: Standing,
        rooms: Rooms,
        happenings: Happenings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._standing = standing
        self._rooms = rooms
        self._happenings = happenings

    # --- checks --------------------------------------------------------------------------

    def _checked(self, request: ActionRequest, allowed: tuple[str, ...], now: datetime) -> str:
        if request.action not in allowed:
            raise InvalidInput("invalid_action", f"Actions here are {', '.join(allowed)}.")
        reason = request.reason.strip()
        if not reason:
            raise InvalidInput("reason_required", "Give the reason for this action.")
        if len(reason) > REASON_MAX or len(request.message) > MESSAGE_MAX:
            raise InvalidInput("reason_too_long", f"Write at most {REASON_MAX} characters.")
        if request.action == "suspend":
            until = request.until
            if until is None or until.tzinfo is None or until <= now:
                raise InvalidInput("invalid_until", "A suspension needs an end in the future.")
            if until - now > SUSPENSION_MAX:
                raise InvalidInput("invalid_until", "Suspend for at most ten years; or ban.")
        elif request.until is not None:
            raise InvalidInput("invalid_until", "Only a suspension takes an end time.")
        return reason

    @staticmethod
    def _may_act_on(actor: Actor, staff: User, person: User) -> None:
        if person.id == actor.id:
            raise Forbidden("cannot_act_on_self", "Staff cannot act on their own account.")
        if person.staff_role is not None and staff.staff_role != StaffRole.ADMIN:
            raise Forbidden("target_is_staff", "Only an administrator acts on staff.")

    async def _person(self, tx: AsyncSession, username: str) -> User:
        user = await username_rules.find(tx, username)
        if user is None:
            raise NotFound(
                "user_not_found", f"No one is called @{username_rules.normalise(username)}."
            )
        return user

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

    # --- reports -------------------------------------------------------------------------

    async def act_on_report(self, staff: User, report_id: int, request: ActionRequest) -> Report:
        """Close a report: dismiss or resolve it, or sanction the person it is about."""
        actor = Actor.safety(staff)
        now = self._clock.now()
        reason = self._checked(request, REPORT_ACTIONS, now)
        async with self._db.transaction() as tx:
            report = await store.report(tx, report_id, lock=True)
            if report is None:
                raise NotFound("report_not_found", "There is no such report.")
            if report.reporter_id == actor.id:
                raise Forbidden("own_report", "Another member of staff handles your report.")
            if report.status != ReportStatus.OPEN:
                raise Conflict("report_closed", "This report was closed already.")
            person = None
            if request.action in SANCTION_OF:
                if report.subject_id is None:
                    raise InvalidInput(
                        "report_names_no_person", "This report is about a room, not a person."
                    )
                person = await store.lock_user(tx, report.subject_id)
                if person is None:
                    raise Conflict("person_gone", "The person reported deleted their account.")
                self._may_act_on(actor, staff, person)
                await self._sanction(tx, actor, person, request, reason, now, report.id)
            report.status = ReportStatus.CLOSED
            report.outcome = OUTCOME_OF[request.action]
            report.closed_by_id = actor.id
            report.closed_at = now
            await audit_store.append(
                tx,
                [
                    self._entry(
                        actor,
                        f"report.{request.action}",
                        f"report:{report.id}",
                        now,
                        reason=reason,
                        person=user_target(report.subject_id) if report.subject_id else None,
                        until=request.until.isoformat() if request.until else None,
                    )
                ],
            )
            if report.reporter_id is not None:
                await self._happenings.record(
                    tx,
                    Happening(
                        REPORT_OUTCOME,
                        Recipients(users=(report.reporter_id,)),
                        data={
                            "report": report.id,
                            "category": report.category,
                            "outcome": told_outcome(request.action),
                        },
                        key=f"report.outcome:{report.id}",
                    ),
                )
        if person is not None:
            await self._enforce(person.id, request.action)
        return report

    # --- people --------------------------------------------------------------------------

    async def act_on_person(self, staff: User, username: str, request: ActionRequest) -> User:
        """Warn, suspend, ban or reinstate someone without a report."""
        actor = Actor.safety(staff)
        now = self._clock.now()
        reason = self._checked(request, USER_ACTIONS, now)
        async with self._db.transaction() as tx:
            found = await self._person(tx, username)
            person = await store.lock_user(tx, found.id)
            assert person is not None
            self._may_act_on(actor, staff, person)
            await self._sanction(tx, actor, person, request, reason, now, None)
            await audit_store.append(
                tx,
                [
                    self._entry(
                        actor,
                        f"user.{request.action}",
                        user_target(person.id),
                        now,
                        username=person.username,
                        reason=reason,
                        until=request.until.isoformat() if request.until else None,
                    )
                ],
            )
            await tx.refresh(person)
        await self._enforce(person.id, request.action)
        return person

    async def _sanction(
        self,
        tx: AsyncSession,
        actor: Actor,
        person: User,
        request: ActionRequest,
        reason: str,
        now: datetime,
        report_id: int | None,
    ) -> None:
        kind = SANCTION_OF[request.action]
        if kind == SanctionKind.SUSPEND:
            await store.set_restriction(tx, person.id, request.until, person.banned_at)
        elif kind == SanctionKind.BAN:
            await store.set_restriction(tx, person.id, person.suspended_until, now)
        elif kind == SanctionKind.REINSTATE:
            await store.set_restriction(tx, person.id, None, None)
        await store.add_sanction(
            tx,
            Sanction(
                user_id=person.id,
                kind=kind,
                until=request.until,
                reason=reason,
                message=request.message.strip(),
                report_id=report_id,
                staff_id=actor.id,
                created_at=now,
            ),
        )
        if kind in (SanctionKind.WARN, SanctionKind.SUSPEND, SanctionKind.BAN):
            await self._happenings.record(
                tx,
                Happening(
                    WARNED,
                    Recipients(users=(person.id,)),
                    data={
                        "sanction": kind.value,
                        "until": request.until.isoformat() if request.until else None,
                        "message": request.message.strip(),
                    },
                ),
            )
        logger.info("%s: %s on user %s", actor.name, kind, person.id)

    async def _enforce(self, user_id: int, action: str) -> None:
        """After the commit: every process closes the person's sockets and ends their audio;
        they leave every live room."""
        if action not in ("suspend", "ban", "reinstate"):
            return
        await self._standing.changed([user_id], Reason.STATUS)
        if action == "reinstate":
            return
        async with self._db.transaction() as tx:
            person = await user_store.by_id(tx, user_id)
        if person is not None:
            await self._rooms.leave_all(person)

    # --- rooms ---------------------------------------------------------------------------

    async def end_room(self, staff: User, room_id: str, reason: str) -> None:
        actor = Actor.safety(staff)
        reason = self._reason(reason)
        entry = self._entry(actor, "room.end", f"room:{room_id}", self._clock.now(), reason=reason)
        await self._rooms.end_by_staff(room_id, entry)

    async def remove_from_room(self, staff: User, room_id: str, username: str, reason: str) -> None:
        actor = Actor.safety(staff)
        reason = self._reason(reason)
        async with self._db.transaction() as tx:
            person = await self._person(tx, username)
        if person.id == actor.id:
            raise Forbidden("cannot_act_on_self", "Staff cannot act on their own account.")
        entry = self._entry(
            actor,
            "room.remove",
            f"room:{room_id}",
            self._clock.now(),
            reason=reason,
            person=user_target(person.id),
            username=person.username,
        )
        await self._rooms.remove_by_staff(room_id, person, entry)

    # --- the badge -----------------------------------------------------------------------

    async def set_verified(self, staff: User, username: str, verified: bool, reason: str) -> User:
        actor = Actor.safety(staff)
        reason = self._reason(reason)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            person = await self._person(tx, username)
            person.verified = verified
            await audit_store.append(
                tx,
                [
                    self._entry(
                        actor,
                        "user.verify" if verified else "user.unverify",
                        user_target(person.id),
                        now,
                        username=person.username,
                        reason=reason,
                    )
                ],
            )
        return person

    def _reason(self, reason: str) -> str:
        reason = reason.strip()
        if not reason:
            raise InvalidInput("reason_required", "Give the reason for this action.")
        if len(reason) > REASON_MAX:
            raise InvalidInput("reason_too_long", f"Write at most {REASON_MAX} characters.")
        return reason
