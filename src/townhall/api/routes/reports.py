"""S8 reports over HTTP: anyone who is a member reports a person or a room; anyone signed
in reads what reporting is for and what a report keeps of a room's audio."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep, UserDep
from townhall.api.schemas import Strict
from townhall.domain.reports import TEXT_MAX
from townhall.vocabulary import ReportCategory

router = APIRouter(tags=["reports"])


class ReportIn(Strict):
    # Stated as the document's enum; read as text, so another word is the domain's
    # invalid_report_category.
    category: str = Field(
        max_length=32,
        description=f"One of {', '.join(ReportCategory)}.",
        json_schema_extra={"enum": [c.value for c in ReportCategory]},
    )
    text: str = Field("", max_length=TEXT_MAX, description="What happened, in your words.")
    room: str | None = Field(None, min_length=1, max_length=16, description="A room's id.")
    user: str | None = Field(
        None, min_length=1, max_length=64, description="A username, with or without @."
    )


class ReportFiledOut(BaseModel):
    id: int


class IncidentAudioPolicyOut(BaseModel):
    buffer_seconds: int = Field(
        description="How much of a live room's audio is held for a report; 0: none is."
    )
    retention_days: int = Field(description="The longest sealed audio is kept.")


class SafetyPolicyOut(BaseModel):
    report_categories: list[ReportCategory]
    incident_audio: IncidentAudioPolicyOut


@router.get("/api/safety", response_model=SafetyPolicyOut)
async def safety_policy(user: UserDep, container: ContainerDep) -> SafetyPolicyOut:
    """What a report may be about, and what this server keeps of a live room's audio for
    reports (the incident buffer, docs/safety.md): what a room tells the people in it."""
    settings = container.settings
    return SafetyPolicyOut(
        report_categories=list(ReportCategory),
        incident_audio=IncidentAudioPolicyOut(
            buffer_seconds=settings.incident_buffer_seconds,
            retention_days=settings.incident_audio_retention_days,
        ),
    )


@router.post("/api/reports", status_code=201, response_model=ReportFiledOut)
async def file_report(body: ReportIn, user: MemberDep, container: ContainerDep) -> ReportFiledOut:
    """Report a person (from a room or a profile), a room, or a person in a room. Only staff
    ever learn who reported; the person reported never does."""
    report_id = await container.reports.file(
        user, body.category, body.text, room_id=body.room, username=body.user
    )
    return ReportFiledOut(id=report_id)
