"""Reports (S8): anyone in the network reports a person or a room; staff read the queue.

The reporter is known to staff only. Nothing the reported person can read (their profile,
notifications, data export, a room's events) names who reported them: the report is stored
apart and only ``/api/admin`` reads it.

A report about a live room, or about someone who is in a live room, records that room and
a snapshot of it (title, kind, who was on stage and whether they were muted, how many
listened). After such a report commits, every listener registered with ``listen`` is
called with ``(report_id, room_id, user_id)``: the incident audio buffer seals the room's
audio there (docs/safety.md, *Reports*). A listener that fails is logged; the report stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import usernames as username_rules
from townhall.errors import InvalidInput, NotFound
from townhall.ratelimit import RateLimiter
from townhall.storage import rooms as room_store
from townhall.storage import safety as store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.keyset import Key
from townhall.storage.models import Report, Room, Sanction, User
from townhall.storage.safety import QueueCounts, QueueFilter
from townhall.vocabulary import ReportCategory, ReportStatus, RoomStatus

logger = logging.getLogger(__name__)

TEXT_MAX = 2000
"""The longest free text a report may carry, in characters."""

ReportListener = Callable[[int, str, int | None], Awaitable[None]]
"""Called after a report about a live room commits: (report id, room id, person's id)."""


@dataclass(frozen=True)
class ReportDetail:
    """One report as staff see it, with the reported person's history."""

    report: Report
    reporter: User | None
    subject: User | None
    earlier: list[Report]
    """Earlier reports about the same person, newest first."""
    sanctions: list[Sanction]
    """The person's sanctions, newest first."""
    staff: dict[int, User]
    """The staff named in the sanctions and the report's closing, by id."""
    room_status: str | None = None
    """The reported room's status now (live or ended), None without a room."""


@dataclass(frozen=True)
class PersonRecord:
    """A person as staff see them: their standing and their history."""

    user: User
    reports: list[Report]
    """Reports about them, newest first."""
    sanctions: list[Sanction]
    """Their sanctions, newest first."""
    staff: dict[int, User]
    """The staff named in the sanctions, by id."""


def check_category(category: str) -> str:
    if category not in ReportCategory.__members__.values():
        raise InvalidInput(
            "invalid_report_category",
            f"Categories are {', '.join(ReportCategory)}.",
        )
    return category


async def room_snapshot(tx: AsyncSession, room: Room, now: datetime) -> dict[str, Any]:
    """The room as it is now: what staff see of it at the time of a report."""
    stage = await room_store.stage_members(tx, room.id)
    counts = await room_store.count_roles(tx, room.id)
    return {
        "title": room.title,
        "kind": room.kind,
        "at": now.isoformat(),
        "stage": [{"username": u.username, "role": m.role, "muted": m.muted} for m, u in stage],
        "unmuted": [u.username for m, u in stage if not m.muted],
        "listeners": counts["listener"],
    }


class Reports:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, limiter: RateLimiter
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._listeners: list[ReportListener] = []

    def listen(self, listener: ReportListener) -> None:
        """Be told of every report about a live room once it has committed."""
        self._listeners.append(listener)

    async def file(
        self,
        reporter: User,
        category: str,
        text: str = "",
        room_id: str | None = None,
        username: str | None = None,
    ) -> int:
        """File a report about a person, a room, or a person in a room; its id."""
        check_category(category)
        text = text.strip()
        if len(text) > TEXT_MAX:
            raise InvalidInput("report_text_too_long", f"Write at most {TEXT_MAX} characters.")
        if room_id is None and username is None:
            raise InvalidInput("report_needs_subject", "Name the person or the room to report.")
        await self._limiter.hit(f"report:{reporter.id}", self._settings.limit_reports_per_user)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            subject = None
            if username is not None:
                subject = await username_rules.find(tx, username)
                if subject is None:
                    raise NotFound(
                        "user_not_found",
                        f"No one is called @{username_rules.normalise(username)}.",
                    )
                if subject.id == reporter.id:
                    raise InvalidInput("cannot_report_self", "You cannot report yourself.")
                if room_id is None:
                    room_id = await store.live_room_of(tx, subject.id)
            room = None
            if room_id is not None:
                room = await room_store.room(tx, room_id)
                if room is None:
                    raise NotFound("room_not_found", "There is no such room.")
            live = room is not None and room.status == RoomStatus.LIVE
            report = await store.add_report(
                tx,
                Report(
                    reporter_id=reporter.id,
                    category=category,
                    text=text,
                    subject_id=subject.id if subject else None,
                    room_id=room.id if room else None,
                    room_live=live,
                    room_snapshot=await room_snapshot(tx, room, now) if room and live else None,
                    status=ReportStatus.OPEN,
                    created_at=now,
                ),
            )
            report_id = report.id
        logger.info("report %s (%s) filed", report_id, category)
        if room is not None and live:
            await self._tell(report_id, room.id, subject.id if subject else None)
        return report_id

    async def _tell(self, report_id: int, room_id: str, user_id: int | None) -> None:
        for listener in self._listeners:
            try:
                await listener(report_id, room_id, user_id)
            except Exception:
                logger.exception("a report listener failed on report %s", report_id)

    # --- for staff ----------------------------------------------------------------------

    async def user_id(self, username: str) -> int:
        """The id of the person a queue is filtered by."""
        async with self._db.transaction() as tx:
            user = await username_rules.find(tx, username)
        if user is None:
            raise NotFound(
                "user_not_found", f"No one is called @{username_rules.normalise(username)}."
            )
        return user.id

    async def queue(
        self, f: QueueFilter, after: Key | None, limit: int
    ) -> tuple[list[Report], Key | None, QueueCounts, dict[int, User]]:
        """Reports newest first, the counts for the filter, and the people they name."""
        async with self._db.transaction() as tx:
            reports, next_key = await store.queue(tx, f, after, limit)
            counts = await store.counts(tx, f)
            ids = {i for r in reports for i in (r.reporter_id, r.subject_id) if i is not None}
            people = await user_store.by_ids(tx, sorted(ids))
        return reports, next_key, counts, people

    async def detail(self, report_id: int) -> ReportDetail:
        async with self._db.transaction() as tx:
            report = await store.report(tx, report_id)
            if report is None:
                raise NotFound("report_not_found", "There is no such report.")
            earlier: list[Report] = []
            sanctions: list[Sanction] = []
            if report.subject_id is not None:
                earlier = await store.earlier_about(tx, report.subject_id, report.id)
                sanctions = await store.sanctions_of(tx, report.subject_id)
            ids = {report.reporter_id, report.subject_id, report.closed_by_id}
            ids |= {s.staff_id for s in sanctions}
            people = await user_store.by_ids(tx, sorted(i for i in ids if i is not None))
            room = await room_store.room(tx, report.room_id) if report.room_id else None
        return ReportDetail(
            report=report,
            reporter=people.get(report.reporter_id) if report.reporter_id else None,
            subject=people.get(report.subject_id) if report.subject_id else None,
            earlier=earlier,
            sanctions=sanctions,
            staff=people,
            room_status=room.status if room is not None else None,
        )

    async def person(self, username: str) -> PersonRecord:
        """Someone's standing, the reports about them and their sanctions (staff)."""
        async with self._db.transaction() as tx:
            user = await username_rules.find(tx, username)
            if user is None:
                raise NotFound(
                    "user_not_found", f"No one is called @{username_rules.normalise(username)}."
                )
            reports = await store.earlier_about(tx, user.id)
            sanctions = await store.sanctions_of(tx, user.id)
            staff_ids = sorted({s.staff_id for s in sanctions if s.staff_id is not None})
            staff = await user_store.by_ids(tx, staff_ids)
        return PersonRecord(user=user, reports=reports, sanctions=sanctions, staff=staff)
