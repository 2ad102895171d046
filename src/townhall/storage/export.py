"""A person's own data: gathered for export, locked while it changes, erased with the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from townhall.storage import audit as audit_store
from townhall.storage import auth as auth_store
from townhall.storage.models import (
    AuditEntry,
    Block,
    CalendarFeed,
    Club,
    ClubMember,
    ContactLink,
    Event,
    EventHost,
    EventReminder,
    Follow,
    HallwayTopic,
    InboxItem,
    Invite,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Notification,
    NotificationKindOff,
    NotificationSettings,
    Payment,
    Payout,
    Report,
    RoomEvent,
    Sanction,
    Session,
    SignInCode,
    User,
)


@dataclass(frozen=True)
class Related:
    """Another person tied to this one (followed, following, blocked, a contact), and since when."""

    username: str
    display_name: str
    since: datetime


@dataclass(frozen=True)
class SentInvite:
    invite: Invite
    used_by: str | None
    """The username of whoever joined with it, while their account exists."""


@dataclass(frozen=True)
class ClubTie:
    club: str
    role: str
    since: datetime


@dataclass(frozen=True)
class EventTie:
    event: str
    starts_at: datetime
    time_zone: str
    status: str
    tie: str
    """"host" or "reminder"."""


@dataclass(frozen=True)
class Received:
    kind: str
    data: dict[str, Any]
    at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class NotificationChoices:
    fewer: bool
    paused_until: datetime | None
    hourly_cap: int | None
    kinds_off: list[str]


@dataclass(frozen=True)
class FiledReport:
    """A report this person filed: theirs to see. Reports about them are not."""

    report: Report
    about: str | None
    """The username reported, if any (and still there)."""


@dataclass(frozen=True)
class Money:
    """S10: what the person paid and was paid, their ledger account's lines and payouts."""

    paid: list[Payment]
    received: list[Payment]
    ledger: list[tuple[JournalLine, JournalEntry]]
    payouts: list[Payout]


@dataclass(frozen=True)
class PersonalData:
    """Everything stored about one person, as the export shows it."""

    user: User
    nominator: Related | None
    sessions: list[Session]
    following: list[Related]
    followers: list[Related]
    blocked: list[Related]
    contacts: list[Related]
    invites: list[SentInvite]
    clubs: list[ClubTie]
    events: list[EventTie]
    calendar_feeds: list[CalendarFeed]
    notification_choices: NotificationChoices
    inbox: list[Received]
    hallway_topics: list[str]
    reports_filed: list[FiledReport]
    sanctions: list[Sanction]
    money: Money
    """What staff did to the account; the export shows what the person was told, never
    staff's reasons (which may name whoever reported them)."""


async def user_for_update(tx: AsyncSession, user_id: int) -> User | None:
    """The person's row, locked until the transaction ends (a no-op lock on SQLite, which
    already serialises writers), so two concurrent edits cannot both read the old avatar."""
    query = select(User).where(User.id == user_id).with_for_update()
    return (await tx.execute(query)).scalar_one_or_none()


async def gather(tx: AsyncSession, user_id: int) -> PersonalData | None:
    """Everything about ``user_id``; token and code hashes are never part of it."""
    user = await tx.get(User, user_id)
    if user is None:
        return None
    nominator = None
    if user.nominated_by_id is not None:
        other = await tx.get(User, user.nominated_by_id)
        if other is not None and user.joined_at is not None:
            nominator = Related(other.username, other.display_name, user.joined_at)
    return PersonalData(
        user=user,
        nominator=nominator,
        sessions=await auth_store.sessions_of(tx, user_id),
        following=await _people(
            tx, Follow.followee_id, Follow.created_at, Follow.follower_id == user_id
        ),
        followers=await _people(
            tx, Follow.follower_id, Follow.created_at, Follow.followee_id == user_id
        ),
        blocked=await _people(tx, Block.blocked_id, Block.created_at, Block.blocker_id == user_id),
        contacts=await _people(
            tx, ContactLink.contact_id, ContactLink.created_at, ContactLink.owner_id == user_id
        ),
        invites=await _invites(tx, user_id),
        clubs=await _clubs(tx, user_id),
        events=await _events(tx, user_id),
        calendar_feeds=list(
            (
                await tx.execute(
                    select(CalendarFeed)
                    .where(CalendarFeed.user_id == user_id)
                    .order_by(CalendarFeed.id)
                )
            ).scalars()
        ),
        notification_choices=await _notification_choices(tx, user_id),
        inbox=await _inbox(tx, user_id),
        hallway_topics=list(
            (
                await tx.execute(
                    select(HallwayTopic.word)
                    .where(HallwayTopic.user_id == user_id)
                    .order_by(HallwayTopic.word)
                )
            ).scalars()
        ),
        reports_filed=await _reports_filed(tx, user_id),
        sanctions=list(
            (
                await tx.execute(
                    select(Sanction).where(Sanction.user_id == user_id).order_by(Sanction.id)
                )
            ).scalars()
        ),
        money=await _money(tx, user_id),
    )


async def _money(tx: AsyncSession, user_id: int) -> Money:
    def payments(column: Any) -> Any:
        return select(Payment).where(column == user_id).order_by(Payment.id)

    lines = await tx.execute(
        select(JournalLine, JournalEntry)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(LedgerAccount.user_id == user_id)
        .order_by(JournalLine.id)
    )
    return Money(
        paid=list((await tx.execute(payments(Payment.payer_id))).scalars()),
        received=list((await tx.execute(payments(Payment.payee_id))).scalars()),
        ledger=[(line, entry) for line, entry in lines.all()],
        payouts=list(
            (
                await tx.execute(
                    select(Payout).where(Payout.user_id == user_id).order_by(Payout.id)
                )
            ).scalars()
        ),
    )


async def _reports_filed(tx: AsyncSession, user_id: int) -> list[FiledReport]:
    rows = await tx.execute(
        select(Report, User.username)
        .outerjoin(User, User.id == Report.subject_id)
        .where(Report.reporter_id == user_id)
        .order_by(Report.id)
    )
    return [FiledReport(report, about) for report, about in rows.all()]


async def _clubs(tx: AsyncSession, user_id: int) -> list[ClubTie]:
    query = (
        select(Club.name, ClubMember.role, ClubMember.created_at)
        .join(ClubMember, ClubMember.club_id == Club.id)
        .where(ClubMember.user_id == user_id)
        .order_by(ClubMember.created_at, Club.id)
    )
    return [ClubTie(n, r, t) for n, r, t in (await tx.execute(query)).all()]


async def _events(tx: AsyncSession, user_id: int) -> list[EventTie]:
    ties: list[EventTie] = []
    for link, tie in ((EventHost, "host"), (EventReminder, "reminder")):
        query = (
            select(Event.name, Event.starts_at, Event.time_zone, Event.status)
            .join(link, link.event_id == Event.id)
            .where(link.user_id == user_id)
            .order_by(Event.starts_at, Event.id)
        )
        ties += [EventTie(n, t, z, s, tie) for n, t, z, s in (await tx.execute(query)).all()]
    return ties


async def _notification_choices(tx: AsyncSession, user_id: int) -> NotificationChoices:
    chosen = await tx.get(NotificationSettings, user_id)
    off = await tx.execute(
        select(NotificationKindOff.kind)
        .where(NotificationKindOff.user_id == user_id)
        .order_by(NotificationKindOff.kind)
    )
    return NotificationChoices(
        fewer=chosen.fewer if chosen else False,
        paused_until=chosen.paused_until if chosen else None,
        hourly_cap=chosen.hourly_cap if chosen else None,
        kinds_off=list(off.scalars()),
    )


async def _inbox(tx: AsyncSession, user_id: int) -> list[Received]:
    query = (
        select(Notification.kind, Notification.data, InboxItem.created_at, InboxItem.read_at)
        .join(InboxItem, InboxItem.notification_id == Notification.id)
        .where(InboxItem.user_id == user_id)
        .order_by(InboxItem.created_at, Notification.id)
    )
    return [Received(k, d, t, r) for k, d, t, r in (await tx.execute(query)).all()]


async def _people(tx: AsyncSession, other_id: Any, since: Any, where: Any) -> list[Related]:
    """People on the other end of a link table, oldest link first."""
    query = (
        select(User.username, User.display_name, since)
        .where(User.id == other_id, where)
        .order_by(since, User.id)
    )
    return [Related(u, d, s) for u, d, s in (await tx.execute(query)).all()]


async def _invites(tx: AsyncSession, user_id: int) -> list[SentInvite]:
    invitee = aliased(User)
    query = (
        select(Invite, invitee.username)
        .outerjoin(invitee, invitee.id == Invite.used_by_id)
        .where(Invite.inviter_id == user_id)
        .order_by(Invite.id)
    )
    return [SentInvite(i, name) for i, name in (await tx.execute(query)).all()]


async def mentions(tx: AsyncSession, username: str) -> tuple[list[RoomEvent], list[Notification]]:
    """Room events and notifications whose JSON may name ``username``: a textual match, so
    a few may only contain the name in passing. It reads every row of both tables, which
    is acceptable for a deletion, not for a request path."""
    quoted = f'%"{username}"%'

    def naming(*columns: Any) -> Any:
        return or_(*(cast(c, String).like(quoted) for c in columns))

    events = await tx.execute(select(RoomEvent).where(naming(RoomEvent.data, RoomEvent.audience)))
    notes = await tx.execute(select(Notification).where(naming(Notification.data)))
    return list(events.scalars()), list(notes.scalars())


async def erase(tx: AsyncSession, user: User, now: datetime) -> None:
    """Delete the person. The schema's cascades remove what is only theirs (sessions,
    sign-in links, follows both ways, blocks both ways, contact matches, invites they sent,
    their inbox) and set to null what others keep (their nominees' nominator, invites they
    redeemed, audit entries they made). Codes mailed to their address go too, and so do the
    notifications they caused and those nobody else received.

    Room memberships cascade too, silently: leave the rooms through the room service first."""
    await tx.execute(delete(SignInCode).where(SignInCode.email == user.email))
    user_id = user.id
    others = InboxItem.__table__.alias("others")
    await tx.execute(
        delete(Notification).where(
            or_(
                Notification.actor_id == user_id,
                Notification.id.in_(
                    select(InboxItem.notification_id).where(InboxItem.user_id == user_id)
                )
                & ~exists().where(
                    others.c.notification_id == Notification.id, others.c.user_id != user_id
                ),
            )
        )
    )
    await tx.delete(user)
    await tx.flush()
    await audit_store.append(
        tx,
        [
            AuditEntry(
                actor_id=None,
                actor="self",
                action="account_deleted",
                target=f"user:{user_id}",
                data={},
                created_at=now,
            )
        ],
    )
