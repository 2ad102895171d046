"""The signed-in person's own account: read and edit the profile, the avatar, export, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.datastructures import UploadFile
from starlette.types import Message

from townhall.api.contract import named_keys
from townhall.api.deps import (
    SESSION_COOKIE,
    ContainerDep,
    MemberDep,
    RestrictedViewerDep,
    UserDep,
)
from townhall.api.limits import allow_body
from townhall.api.schemas import MeOut, OkOut, SessionOut, Strict
from townhall.api.views import me_out, session_out
from townhall.domain.profile import HANDLES, PersonalData, ProfileChanges, Related
from townhall.errors import InvalidInput, TooLarge
from townhall.storage.models import Payment

router = APIRouter(prefix="/api/me", tags=["me"])

# Room for the multipart boundaries and part headers around the image itself.
MULTIPART_SLACK = 64 * 1024
CHUNK = 64 * 1024

LinkKind = Annotated[str, StringConstraints(max_length=40)]
Handle = Annotated[str, StringConstraints(max_length=200)]


class ProfileIn(Strict):
    display_name: str | None = Field(None, max_length=1000)
    bio: str | None = Field(None, max_length=40000)
    show_nominator: bool | None = Field(None, description='Show "Nominated by" on the profile.')
    links: dict[LinkKind, Handle | None] | None = Field(
        None,
        max_length=10,
        description=f"Replaces all social handles. Keys: {', '.join(HANDLES)}; '' removes one.",
        # The sites by name (another is the domain's unknown_link). A handle's form is the
        # domain's invalid_handle: Instagram's needs lookarounds, which regular expressions
        # in schemas do not read alike everywhere.
        json_schema_extra=named_keys(HANDLES),
    )


class DeleteAccountIn(Strict):
    confirm: str = Field(max_length=100, description="Your username, typed again.")


class RelatedOut(BaseModel):
    username: str
    display_name: str
    since: datetime


class ExportedInviteOut(BaseModel):
    id: int
    email: str | None
    status: str
    created_at: datetime
    used_at: datetime | None
    cancelled_at: datetime | None
    used_by: str | None


class ClubTieOut(BaseModel):
    club: str
    role: str
    since: datetime


class EventTieOut(BaseModel):
    event: str
    starts_at: datetime
    time_zone: str
    status: str
    tie: Literal["host", "reminder"]


class CalendarFeedOut(BaseModel):
    created_at: datetime
    revoked_at: datetime | None


class NotificationChoicesOut(BaseModel):
    fewer: bool
    paused_until: datetime | None
    hourly_cap: int | None
    kinds_off: list[str]


class ReceivedOut(BaseModel):
    kind: str
    data: dict[str, Any]
    at: datetime
    read_at: datetime | None


class FiledReportOut(BaseModel):
    category: str
    text: str
    user: str | None = Field(description="The person you reported, if any.")
    room: str | None
    status: str
    created_at: datetime


class ExportedSanctionOut(BaseModel):
    kind: str = Field(description="warn, suspend, ban or reinstate.")
    until: datetime | None
    message: str = Field(description="What staff told you.")
    created_at: datetime


class PaymentRecordOut(BaseModel):
    id: str
    purpose: str
    status: str
    amount: int
    fee: int
    currency: str
    created_at: datetime


class LedgerLineOut(BaseModel):
    kind: str
    amount: int = Field(description="Positive: money you received; negative: money that left.")
    currency: str
    at: datetime


class PayoutRecordOut(BaseModel):
    id: str
    status: str
    amount: int
    currency: str
    created_at: datetime


class MoneyOut(BaseModel):
    paid: list[PaymentRecordOut] = Field(description="Tips, tickets and subscriptions you paid.")
    received: list[PaymentRecordOut] = Field(description="Payments made to you.")
    ledger: list[LedgerLineOut] = Field(description="Every line of your earnings account.")
    payouts: list[PayoutRecordOut]


class ExportOut(BaseModel):
    format: Literal["townhall-export/1"] = "townhall-export/1"
    exported_at: datetime
    account: MeOut
    nominated_by: RelatedOut | None
    sessions: list[SessionOut]
    following: list[RelatedOut]
    followers: list[RelatedOut]
    blocked: list[RelatedOut]
    contacts: list[RelatedOut] = Field(description="Members found in contacts you shared.")
    invites_sent: list[ExportedInviteOut]
    clubs: list[ClubTieOut]
    events: list[EventTieOut] = Field(description="Events you host or asked to be reminded of.")
    calendar_feeds: list[CalendarFeedOut] = Field(description="Your feed addresses, no secrets.")
    notification_settings: NotificationChoicesOut
    notifications: list[ReceivedOut] = Field(description="Your inbox, oldest first.")
    hallway_topics: list[str] = Field(description="Title words that rank your hallway.")
    reports_filed: list[FiledReportOut] = Field(description="Reports you filed.")
    sanctions: list[ExportedSanctionOut] = Field(description="What staff did to your account.")
    money: MoneyOut = Field(description="Payments, earnings and payouts (S10).")


AVATAR_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PNG, JPEG or WebP image.",
                        }
                    },
                }
            }
        },
    }
}


def too_large(limit: int) -> TooLarge:
    return TooLarge("avatar_too_large", f"Avatars are at most {limit:,} bytes.", limit=limit)


async def avatar_upload(request: Request, user: MemberDep, container: ContainerDep) -> bytes:
    """The multipart field ``file``, read in chunks; reading stops once past the limit.

    Members only, checked before a byte is read: decoding pictures is the costliest thing
    the API does, and anyone can be on the waitlist (S1: they reserve a username only)."""
    limit = container.settings.avatar_max_bytes
    # Past the general body cap; the checks below answer first, with the avatar's own code.
    allow_body(request, limit + 2 * MULTIPART_SLACK)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise too_large(limit)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit + MULTIPART_SLACK:
            raise too_large(limit)
        return message

    form = await Request(request.scope, receive).form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("avatar_missing", "Send the image in the multipart field 'file'.")
        data = bytearray()
        while chunk := await upload.read(CHUNK):
            data += chunk
            if len(data) > limit:
                raise too_large(limit)
        return bytes(data)
    finally:
        await form.close()


def related_out(person: Related) -> RelatedOut:
    return RelatedOut(
        username=person.username, display_name=person.display_name, since=person.since
    )


def export_out(data: PersonalData, current_session: int, now: datetime) -> ExportOut:
    return ExportOut(
        exported_at=now,
        account=me_out(data.user),
        nominated_by=related_out(data.nominator) if data.nominator else None,
        sessions=[session_out(s, current_session) for s in data.sessions],
        following=[related_out(p) for p in data.following],
        followers=[related_out(p) for p in data.followers],
        blocked=[related_out(p) for p in data.blocked],
        contacts=[related_out(p) for p in data.contacts],
        invites_sent=[
            ExportedInviteOut(
                id=sent.invite.id,
                email=sent.invite.email,
                status=sent.invite.status,
                created_at=sent.invite.created_at,
                used_at=sent.invite.used_at,
                cancelled_at=sent.invite.cancelled_at,
                used_by=sent.used_by,
            )
            for sent in data.invites
        ],
        clubs=[ClubTieOut(club=c.club, role=c.role, since=c.since) for c in data.clubs],
        events=[
            EventTieOut(
                event=e.event,
                starts_at=e.starts_at,
                time_zone=e.time_zone,
                status=e.status,
                tie="host" if e.tie == "host" else "reminder",
            )
            for e in data.events
        ],
        calendar_feeds=[
            CalendarFeedOut(created_at=f.created_at, revoked_at=f.revoked_at)
            for f in data.calendar_feeds
        ],
        notification_settings=NotificationChoicesOut(
            fewer=data.notification_choices.fewer,
            paused_until=data.notification_choices.paused_until,
            hourly_cap=data.notification_choices.hourly_cap,
            kinds_off=data.notification_choices.kinds_off,
        ),
        notifications=[
            ReceivedOut(kind=n.kind, data=n.data, at=n.at, read_at=n.read_at) for n in data.inbox
        ],
        hallway_topics=data.hallway_topics,
        reports_filed=[
            FiledReportOut(
                category=f.report.category,
                text=f.report.text,
                user=f.about,
                room=f.report.room_id,
                status=f.report.status,
                created_at=f.report.created_at,
            )
            for f in data.reports_filed
        ],
        sanctions=[
            ExportedSanctionOut(
                kind=x.kind, until=x.until, message=x.message, created_at=x.created_at
            )
            for x in data.sanctions
        ],
        money=MoneyOut(
            paid=[_payment_record(p) for p in data.money.paid],
            received=[_payment_record(p) for p in data.money.received],
            ledger=[
                LedgerLineOut(
                    kind=e.kind, amount=-line.amount, currency=line.currency, at=e.created_at
                )
                for line, e in data.money.ledger
            ],
            payouts=[
                PayoutRecordOut(
                    id=p.public_id,
                    status=p.status,
                    amount=p.amount,
                    currency=p.currency,
                    created_at=p.created_at,
                )
                for p in data.money.payouts
            ],
        ),
    )


def _payment_record(p: Payment) -> PaymentRecordOut:
    return PaymentRecordOut(
        id=p.public_id,
        purpose=p.purpose,
        status=p.status,
        amount=p.amount,
        fee=p.fee,
        currency=p.currency,
        created_at=p.created_at,
    )


@router.get("", response_model=MeOut)
async def get_me(viewer: RestrictedViewerDep) -> MeOut:
    """Your own account, including your email and membership status (and a suspension or
    ban: this is one of the few routes a suspended or banned person may still use)."""
    return me_out(viewer.user)


@router.patch("", response_model=MeOut)
async def edit_me(body: ProfileIn, user: UserDep, container: ContainerDep) -> MeOut:
    """Change your display name, bio, social handles or whether your nominator shows.
    Fields left out stay as they are. Usernames cannot be changed."""
    changes = ProfileChanges(
        display_name=body.display_name,
        bio=body.bio,
        show_nominator=body.show_nominator,
        links=body.links,
    )
    return me_out(await container.profiles.update(user, changes))


@router.put("/avatar", response_model=MeOut, openapi_extra=AVATAR_BODY)
async def set_avatar(
    data: Annotated[bytes, Depends(avatar_upload)], user: UserDep, container: ContainerDep
) -> MeOut:
    """Upload a new avatar (PNG, JPEG or WebP). It is squared, resized and stripped of
    metadata (location included) before it is stored."""
    return me_out(await container.profiles.set_avatar(user, data))


@router.delete("/avatar", response_model=MeOut)
async def remove_avatar(user: UserDep, container: ContainerDep) -> MeOut:
    """Remove your avatar."""
    return me_out(await container.profiles.remove_avatar(user))


@router.get("/export", response_model=ExportOut)
async def export_me(viewer: RestrictedViewerDep, container: ContainerDep) -> JSONResponse:
    """Download everything Townhall stores about you, as a JSON file."""
    data = await container.profiles.export(viewer.user)
    now = container.clock.now()
    body = export_out(data, viewer.session.id, now)
    name = f"townhall-{data.user.username}-{now:%Y-%m-%d}.json"
    return JSONResponse(
        body.model_dump(mode="json"),
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.delete("", response_model=OkOut)
async def delete_me(
    body: DeleteAccountIn, viewer: RestrictedViewerDep, container: ContainerDep, response: Response
) -> OkOut:
    """Delete your account and everything that is only yours. This cannot be undone."""
    await container.erasure.delete_account(viewer.user, body.confirm)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return OkOut()
