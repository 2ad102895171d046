"""S8 staff console over HTTP: the report queue, one report, staff actions on reports,
people and rooms, the verified badge. Trust and safety staff and administrators."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from townhall.api.deps import ContainerDep, SafetyStaffDep
from townhall.api.pagination import Page, PageRequest, encode_cursor, page_request
from townhall.api.routes.rooms import RoomId
from townhall.api.schemas import MAX_ID, Lax, OkOut, PlainText, Strict, UserRef
from townhall.api.views import user_ref
from townhall.app import Container
from townhall.domain.moderation import MESSAGE_MAX, REASON_MAX, ActionRequest
from townhall.domain.reports import PersonRecord, ReportDetail
from townhall.storage.audit import user_target
from townhall.storage.models import Report, Sanction, User
from townhall.storage.safety import QueueFilter
from townhall.vocabulary import ReportCategory, ReportStatus, RoomStatus, UserStatus

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/admin", tags=["safety"])

Username = Path(min_length=1, max_length=64, description="A username, with or without @.")
ReportId = Path(ge=1, le=MAX_ID)
Reason = Field(
    min_length=1,
    max_length=REASON_MAX,
    description="Why; kept in the audit log.",
    # Not only spaces (else the domain's reason_required), nor a NUL.
    json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"},
)


class ReportOut(BaseModel):
    id: int
    category: ReportCategory
    text: str
    reporter: UserRef | None = Field(description="Staff only; null once their account is gone.")
    user: UserRef | None = Field(description="The person reported.")
    room: str | None
    room_live: bool = Field(description="The room was live when the report was filed.")
    status: ReportStatus
    outcome: str | None
    created_at: datetime
    closed_at: datetime | None


class QueueCountsOut(BaseModel):
    by_status: dict[str, int]
    by_category: dict[str, int]


class ReportQueueOut(Page[ReportOut]):
    counts: QueueCountsOut = Field(
        description="Reports matching the other filters, by status and by category."
    )


class SanctionOut(BaseModel):
    id: int
    kind: str
    until: datetime | None
    reason: str
    message: str
    report: int | None
    staff: str | None
    created_at: datetime


class EarlierReportOut(BaseModel):
    id: int
    category: str
    status: str
    outcome: str | None
    created_at: datetime


class SpanOut(BaseModel):
    username: str
    start: float = Field(alias="from", description="Seconds from the start of the audio.")
    to: float

    model_config = ConfigDict(populate_by_name=True)


class TimelineOut(BaseModel):
    room: str
    sealed_at: datetime
    ended_at: datetime | None
    started_at: datetime | None
    seconds: float
    stage: list[SpanOut]
    unmuted: list[SpanOut]
    speaking: list[SpanOut]


class IncidentAudioOut(BaseModel):
    url: str = Field(description="The audio as Ogg Opus (staff).")
    timeline: TimelineOut = Field(
        description="Who was on stage, unmuted and speaking, in seconds into the audio."
    )


class ReportDetailOut(ReportOut):
    room_snapshot: dict[str, Any] | None = Field(
        description="The room at report time: title, kind, stage (who, role, muted), "
        "unmuted, listeners."
    )
    closed_by: str | None
    room_status: RoomStatus | None = Field(
        description="The room's status now: live (it can be ended, people removed) or ended."
    )
    earlier_reports: list[EarlierReportOut] = Field(
        description="Earlier reports about the same person, newest first."
    )
    sanctions: list[SanctionOut] = Field(description="The person's sanctions, newest first.")
    audio: IncidentAudioOut | None = Field(
        None, description="The room's sealed audio and its timeline; null when there is none."
    )


class ActionIn(Strict):
    action: Literal["dismiss", "resolve", "warn", "suspend", "ban"]
    reason: PlainText = Reason
    until: Annotated[datetime, Lax] | None = Field(None, description="A suspension's end.")
    message: PlainText = Field(
        "", max_length=MESSAGE_MAX, description="Words for the person warned or suspended."
    )


class PersonActionIn(Strict):
    action: Literal["warn", "suspend", "ban", "reinstate"]
    reason: PlainText = Reason
    until: Annotated[datetime, Lax] | None = None
    message: PlainText = Field("", max_length=MESSAGE_MAX)


class ReasonIn(Strict):
    reason: PlainText = Reason


class RemoveIn(Strict):
    user: str = Field(min_length=1, max_length=64)
    reason: PlainText = Reason


class StandingOut(BaseModel):
    username: str
    suspended_until: datetime | None
    banned: bool
    verified: bool


class PersonRecordOut(UserRef):
    """Someone as staff see them: standing and history."""

    status: UserStatus
    staff_role: str | None
    joined_at: datetime | None
    suspended_until: datetime | None = Field(
        description="The end of a suspension; in force only while in the future."
    )
    banned: bool
    verified: bool
    audit_target: str = Field(description="How the audit log names them: user:<id>.")
    reports: list[EarlierReportOut] = Field(description="Reports about them, newest first.")
    sanctions: list[SanctionOut] = Field(description="Their sanctions, newest first.")


def _ref(people: dict[int, User], user_id: int | None) -> UserRef | None:
    person = people.get(user_id) if user_id is not None else None
    return user_ref(person) if person is not None else None


def report_out(r: Report, people: dict[int, User]) -> ReportOut:
    return ReportOut(
        id=r.id,
        category=ReportCategory(r.category),
        text=r.text,
        reporter=_ref(people, r.reporter_id),
        user=_ref(people, r.subject_id),
        room=r.room_id,
        room_live=r.room_live,
        status=ReportStatus(r.status),
        outcome=r.outcome,
        created_at=r.created_at,
        closed_at=r.closed_at,
    )


def sanction_out(s: Sanction, staff: dict[int, User]) -> SanctionOut:
    who = staff.get(s.staff_id) if s.staff_id is not None else None
    return SanctionOut(
        id=s.id,
        kind=s.kind,
        until=s.until,
        reason=s.reason,
        message=s.message,
        report=s.report_id,
        staff=who.username if who else None,
        created_at=s.created_at,
    )


def earlier_out(r: Report) -> EarlierReportOut:
    return EarlierReportOut(
        id=r.id, category=r.category, status=r.status, outcome=r.outcome, created_at=r.created_at
    )


def detail_out(d: ReportDetail) -> ReportDetailOut:
    r = d.report
    closer = d.staff.get(r.closed_by_id) if r.closed_by_id is not None else None
    return ReportDetailOut(
        **report_out(r, d.staff).model_dump(),
        room_snapshot=r.room_snapshot,
        closed_by=closer.username if closer else None,
        room_status=RoomStatus(d.room_status) if d.room_status is not None else None,
        earlier_reports=[earlier_out(e) for e in d.earlier],
        sanctions=[sanction_out(s, d.staff) for s in d.sanctions],
    )


def record_out(record: PersonRecord) -> PersonRecordOut:
    u = record.user
    return PersonRecordOut(
        **user_ref(u).model_dump(),
        status=UserStatus(u.status),
        staff_role=u.staff_role,
        joined_at=u.joined_at,
        suspended_until=u.suspended_until,
        banned=u.banned_at is not None,
        verified=u.verified,
        audit_target=user_target(u.id),
        reports=[earlier_out(r) for r in record.reports],
        sanctions=[sanction_out(s, record.staff) for s in record.sanctions],
    )


def standing_out(user: User) -> StandingOut:
    return StandingOut(
        username=user.username,
        suspended_until=user.suspended_until,
        banned=user.banned_at is not None,
        verified=user.verified,
    )


@router.get("/reports", response_model=ReportQueueOut)
async def report_queue(
    staff: SafetyStaffDep,
    container: ContainerDep,
    page: PageRequest = page_request(int),
    status: ReportStatus | None = Query(None, description="open or closed"),
    category: ReportCategory | None = None,
    user: str | None = Query(None, min_length=1, max_length=64, description="Reported person."),
) -> ReportQueueOut:
    """The report queue, newest first, with counts by status and category."""
    subject_id = await container.reports.user_id(user) if user is not None else None
    f = QueueFilter(status=status, category=category, subject_id=subject_id)
    reports, next_key, counts, people = await container.reports.queue(f, page.after, page.limit)
    return ReportQueueOut(
        items=[report_out(r, people) for r in reports],
        next_cursor=None if next_key is None else encode_cursor(next_key),
        counts=QueueCountsOut(by_status=counts.by_status, by_category=counts.by_category),
    )


async def with_audio(container: Container, detail: ReportDetail) -> ReportDetailOut:
    out = detail_out(detail)
    timeline = await container.incident_audio.timeline(detail.report.id)
    if timeline is not None:
        out.audio = IncidentAudioOut(
            url=f"/api/admin/reports/{detail.report.id}/audio",
            timeline=TimelineOut.model_validate(timeline),
        )
    return out


@router.get("/reports/{report_id}", response_model=ReportDetailOut)
async def report_detail(
    staff: SafetyStaffDep, container: ContainerDep, report_id: int = ReportId
) -> ReportDetailOut:
    """One report: who filed it, the room's snapshot at the time, the person's history,
    and the room's sealed audio with its timeline when there is some."""
    return await with_audio(container, await container.reports.detail(report_id))


@router.get(
    "/reports/{report_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/ogg": {}}, "description": "Ogg Opus, mono, 48 kHz."}},
)
async def report_audio(
    staff: SafetyStaffDep, container: ContainerDep, report_id: int = ReportId
) -> Response:
    """The room's audio sealed by this report (or an earlier one on the same room) as Ogg
    Opus; 404 ``incident_audio_not_found`` when there is none or it was destroyed."""
    await container.reports.detail(report_id)  # report_not_found first
    found = await container.incident_audio.audio(report_id)
    logger.info("staff %s fetched the incident audio of report %s", staff.username, report_id)
    return Response(
        found.ogg,
        media_type="audio/ogg",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="report-{report_id}.ogg"',
        },
    )


@router.post("/reports/{report_id}/actions", response_model=ReportDetailOut)
async def act_on_report(
    body: ActionIn, staff: SafetyStaffDep, container: ContainerDep, report_id: int = ReportId
) -> ReportDetailOut:
    """Close a report: dismiss, resolve, or warn, suspend (``until``) or ban the person it
    is about. The reporter is told whether something was done, never what."""
    request = ActionRequest(body.action, body.reason, body.until, body.message)
    await container.staff_actions.act_on_report(staff, report_id, request)
    return await with_audio(container, await container.reports.detail(report_id))


@router.get("/users/{username}", response_model=PersonRecordOut)
async def person_record(
    staff: SafetyStaffDep, container: ContainerDep, username: str = Username
) -> PersonRecordOut:
    """Someone's standing (suspended, banned, verified, staff role), the reports about them
    and their sanctions, newest first: the history the staff console shows."""
    return record_out(await container.reports.person(username))


@router.post("/users/{username}/actions", response_model=StandingOut)
async def act_on_person(
    body: PersonActionIn, staff: SafetyStaffDep, container: ContainerDep, username: str = Username
) -> StandingOut:
    """Warn, suspend (``until``), ban or reinstate someone, without a report."""
    request = ActionRequest(body.action, body.reason, body.until, body.message)
    return standing_out(await container.staff_actions.act_on_person(staff, username, request))


@router.post("/rooms/{room_id}/end", response_model=OkOut)
async def end_room(
    room_id: RoomId, body: ReasonIn, staff: SafetyStaffDep, container: ContainerDep
) -> OkOut:
    """End any live room."""
    await container.staff_actions.end_room(staff, room_id, body.reason)
    return OkOut()


@router.post("/rooms/{room_id}/remove", response_model=OkOut)
async def remove_from_room(
    room_id: RoomId, body: RemoveIn, staff: SafetyStaffDep, container: ContainerDep
) -> OkOut:
    """Take someone out of a live room; they cannot come back into it."""
    await container.staff_actions.remove_from_room(staff, room_id, body.user, body.reason)
    return OkOut()


@router.put("/users/{username}/verified", response_model=StandingOut)
async def verify(
    body: ReasonIn, staff: SafetyStaffDep, container: ContainerDep, username: str = Username
) -> StandingOut:
    """Give a notable account the verified badge."""
    return standing_out(
        await container.staff_actions.set_verified(staff, username, True, body.reason)
    )


@router.delete("/users/{username}/verified", response_model=StandingOut)
async def unverify(
    body: ReasonIn, staff: SafetyStaffDep, container: ContainerDep, username: str = Username
) -> StandingOut:
    """Take the verified badge away."""
    return standing_out(
        await container.staff_actions.set_verified(staff, username, False, body.reason)
    )
