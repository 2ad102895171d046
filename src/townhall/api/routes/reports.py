"""S8 reports over HTTP: anyone who is a member reports a person or a room."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep
from townhall.api.schemas import Strict
from townhall.domain.reports import TEXT_MAX
from townhall.vocabulary import ReportCategory

router = APIRouter(prefix="/api/reports", tags=["reports"])


class ReportIn(Strict):
    category: str = Field(max_length=32, description=f"One of {', '.join(ReportCategory)}.")
    text: str = Field("", max_length=TEXT_MAX, description="What happened, in your words.")
    room: str | None = Field(None, min_length=1, max_length=16, description="A room's id.")
    user: str | None = Field(
        None, min_length=1, max_length=64, description="A username, with or without @."
    )


class ReportFiledOut(BaseModel):
    id: int


@router.post("", status_code=201, response_model=ReportFiledOut)
async def file_report(body: ReportIn, user: MemberDep, container: ContainerDep) -> ReportFiledOut:
    """Report a person (from a room or a profile), a room, or a person in a room. Only staff
    ever learn who reported; the person reported never does."""
    report_id = await container.reports.file(
        user, body.category, body.text, room_id=body.room, username=body.user
    )
    return ReportFiledOut(id=report_id)
