"""S2.1 invites: spend one by email or as a link, list and cancel them, preview a link."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep
from townhall.api.schemas import MAX_ID, Strict, UserRef
from townhall.api.views import user_ref
from townhall.storage.models import Invite

router = APIRouter(prefix="/api/invites", tags=["invites"])

Token = Path(min_length=1, max_length=200)
# Ids are 64-bit in the database; anything larger must be a 422, not an overflow.
InviteId = Path(ge=1, le=MAX_ID)


class InviteIn(Strict):
    email: str | None = Field(
        None, max_length=320, description="Mail the invite here; leave out for a link."
    )


class InviteOut(BaseModel):
    id: int
    email: str | None
    status: Literal["pending", "used", "cancelled"]
    created_at: datetime
    used_at: datetime | None


class SentInviteOut(InviteOut):
    link: str = Field(description="The single-use link; shown only now.")


class InvitesOut(BaseModel):
    invites_left: int
    invites: list[InviteOut]


class InvitePreviewOut(BaseModel):
    inviter: UserRef


def invite_out(invite: Invite) -> InviteOut:
    return InviteOut(
        id=invite.id,
        email=invite.email,
        status=invite.status,  # type: ignore[arg-type]
        created_at=invite.created_at,
        used_at=invite.used_at,
    )


@router.get("", response_model=InvitesOut)
async def list_invites(user: MemberDep, container: ContainerDep) -> InvitesOut:
    """Invites left, and the ones you spent, newest first."""
    left, invites = await container.invites.sent(user)
    return InvitesOut(invites_left=left, invites=[invite_out(i) for i in invites])


@router.post("", status_code=201, response_model=SentInviteOut)
async def send_invite(body: InviteIn, user: MemberDep, container: ContainerDep) -> SentInviteOut:
    """Spend an invite: mailed to an address, or as a single-use link."""
    sent = await container.invites.send(user, body.email)
    return SentInviteOut(**invite_out(sent.invite).model_dump(), link=sent.link)


@router.delete("/{invite_id}", response_model=InviteOut)
async def cancel_invite(
    user: MemberDep, container: ContainerDep, invite_id: int = InviteId
) -> InviteOut:
    """Take back an unused invite; it returns to your quota."""
    return invite_out(await container.invites.cancel_own(user, invite_id))


@router.get("/link/{token}", response_model=InvitePreviewOut)
async def preview_invite(container: ContainerDep, token: str = Token) -> InvitePreviewOut:
    """Who sent an invite link (public: the newcomer is not signed in yet)."""
    return InvitePreviewOut(inviter=user_ref(await container.invites.preview(token)))
