"""S2.4 operator tools over HTTP: the waitlist, approvals, invite grants and cancellations,
and the audit log. Every route needs the staff role ``admin``, but for cancelling an invite
tree and reading the audit log, which trust and safety staff may do too (docs/safety.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from townhall.api.contract import from_settings
from townhall.api.deps import ContainerDep, SafetyStaffDep, StaffDep
from townhall.api.pagination import Page, PageRequest, page_body, page_request
from townhall.api.routes.invites import InviteId, InviteOut, invite_out
from townhall.api.schemas import Strict, UserRef
from townhall.api.views import user_ref
from townhall.domain.operators import MAX_BULK, Actor, Waiting
from townhall.storage.models import AuditEntry

router = APIRouter(prefix="/api/admin", tags=["admin"])

Username = Path(min_length=1, max_length=64, description="A username, with or without @.")
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class WaitlistedOut(UserRef):
    signed_up_at: datetime
    sent_back: bool = Field(
        description="An operator sent them back to the waitlist (see invite-tree/cancel); "
        "approving everyone from the command line leaves them waiting."
    )


class ApproveIn(Strict):
    usernames: list[Name] = Field(min_length=1, max_length=MAX_BULK)


class ApprovalOut(BaseModel):
    approved: list[str] = Field(description="Who became a member now.")
    already_members: list[str]
    unknown: list[str] = Field(description="Names that match no one.")


class GrantIn(Strict):
    count: int = Field(
        ge=1,
        le=10_000,
        description="How many invites to add, at most `invites_max_grant`.",
        json_schema_extra=from_settings(maximum="invites_max_grant"),
    )


class GrantOut(BaseModel):
    username: str
    invites_left: int


class TreeCancelIn(Strict):
    demote: bool = Field(
        False, description="Also send everyone who joined below this person to the waitlist."
    )


class TreeCancelOut(BaseModel):
    username: str
    cancelled_invites: int
    people_below: int = Field(description="How many joined through this person's invites.")
    demoted: list[str]


class AuditOut(BaseModel):
    id: int
    actor: str = Field(description="The staff member's username, or 'cli'.")
    action: str
    target: str
    data: dict[str, Any]
    created_at: datetime


def waitlisted_out(waiting: Waiting) -> WaitlistedOut:
    user = waiting.user
    return WaitlistedOut(
        **user_ref(user).model_dump(),
        signed_up_at=user.created_at,
        sent_back=waiting.sent_back,
    )


def audit_out(entry: AuditEntry) -> AuditOut:
    return AuditOut(
        id=entry.id,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        data=dict(entry.data or {}),
        created_at=entry.created_at,
    )


@router.get("/waitlist", response_model=Page[WaitlistedOut])
async def waitlist(
    staff: StaffDep, container: ContainerDep, page: PageRequest = page_request(datetime, int)
) -> Page[WaitlistedOut]:
    """Everyone on the waitlist, the longest waiting first."""
    people, next_key = await container.operators.waitlist(page.after, page.limit)
    return page_body([waitlisted_out(u) for u in people], next_key)


@router.post("/waitlist/approve", response_model=ApprovalOut)
async def approve(body: ApproveIn, staff: StaffDep, container: ContainerDep) -> ApprovalOut:
    """Let one or many waitlisted people in (up to 500). Unknown names are reported."""
    done = await container.operators.approve(Actor.staff(staff), body.usernames)
    return ApprovalOut(
        approved=done.approved, already_members=done.already_members, unknown=done.unknown
    )


@router.post("/users/{username}/invites", response_model=GrantOut)
async def grant_invites(
    body: GrantIn, staff: StaffDep, container: ContainerDep, username: str = Username
) -> GrantOut:
    """Give a member more invites to send."""
    user = await container.operators.grant_invites(Actor.staff(staff), username, body.count)
    return GrantOut(username=user.username, invites_left=user.invites_left)


@router.delete("/invites/{invite_id}", response_model=InviteOut)
async def cancel_invite(
    staff: StaffDep, container: ContainerDep, invite_id: int = InviteId
) -> InviteOut:
    """Cancel anyone's unused invite. Its sender does not get it back."""
    return invite_out(await container.operators.cancel_invite(Actor.staff(staff), invite_id))


@router.post("/users/{username}/invite-tree/cancel", response_model=TreeCancelOut)
async def cancel_invite_tree(
    staff: SafetyStaffDep,
    container: ContainerDep,
    body: TreeCancelIn | None = None,
    username: str = Username,
) -> TreeCancelOut:
    """Cancel every unused invite of this person and of everyone who joined below them, and
    take away their remaining invites; optionally send the people below to the waitlist."""
    demote = body.demote if body else False
    done = await container.operators.cancel_invite_tree(
        Actor.safety(staff), username, demote=demote
    )
    return TreeCancelOut(
        username=done.root,
        cancelled_invites=done.cancelled_invites,
        people_below=done.people_below,
        demoted=done.demoted,
    )


@router.get("/audit", response_model=Page[AuditOut])
async def audit(
    staff: SafetyStaffDep,
    container: ContainerDep,
    page: PageRequest = page_request(int),
    actor: str | None = Query(None, max_length=64, description="A staff username, or 'cli'."),
    action: str | None = Query(None, max_length=64, description="e.g. user.suspend."),
    target: str | None = Query(
        None, max_length=128, description="e.g. user:12, report:3, room:abc."
    ),
) -> Page[AuditOut]:
    """Every operator and staff action, newest first, optionally filtered by who did it,
    the action and what it was done to. The log is append-only."""
    entries, next_key = await container.operators.audit(
        page.after, page.limit, actor=actor, action=action, target=target
    )
    return page_body([audit_out(e) for e in entries], next_key)
