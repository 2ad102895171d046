"""Table definitions. Migrations in ``migrations/versions`` create exactly these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from townhall.storage.types import UTCDateTime

# SQLite only has 64-bit ints as "INTEGER PRIMARY KEY"; BigInteger there would lose autoincrement.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _ts(nullable: bool = False) -> Any:
    return mapped_column(UTCDateTime(), nullable=nullable)


class User(Base):
    """A person. ``status`` is ``waitlisted`` until they are let in, then ``member``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[str] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar: Mapped[str | None] = mapped_column(String(64), nullable=True)
    links: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    staff_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    nominated_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    show_nominator: Mapped[bool] = mapped_column(Boolean, default=True)
    invites_left: Mapped[int] = mapped_column(Integer, default=0)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = _ts()
    joined_at: Mapped[datetime | None] = _ts(nullable=True)
    suspended_until: Mapped[datetime | None] = _ts(nullable=True)
    """Staff suspended the account until then; it ends by itself (read against the clock)."""
    banned_at: Mapped[datetime | None] = _ts(nullable=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A notable account, marked by staff."""


class SignInCode(Base):
    """A one-time code mailed to an address; only its hash is kept."""

    __tablename__ = "sign_in_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = _ts(nullable=True)


class SignInLink(Base):
    """A one-time sign-in link an operator printed for a member."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = _ts(nullable=True)


class Session(Base):
    """A signed-in device: a browser cookie or a bearer token, stored hashed."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = _ts()
    last_used_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()


class PushSubscription(Base):
    """One device's Web Push subscription (S9): where its browser's push service takes
    messages for it, and the keys to encrypt them with. It belongs to the session that made
    it, so signing that device out ends it too."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(
        Id, ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(Text)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = _ts()


class Invite(Base):
    """One spent invite: to an email address or as a single-use link."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    inviter_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = _ts()
    used_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    used_at: Mapped[datetime | None] = _ts(nullable=True)
    cancelled_at: Mapped[datetime | None] = _ts(nullable=True)


class ContactLink(Base):
    """A match from a member's opt-in contact upload. Raw or hashed contacts are never kept."""

    __tablename__ = "contact_links"

    owner_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = _ts()


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = _ts()

    __table_args__ = (
        Index("ix_follows_followee_created", "followee_id", "created_at"),
        Index("ix_follows_follower_created", "follower_id", "created_at"),
    )


class Block(Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = _ts()


class AuditEntry(Base):
    """Append-only log of operator and staff actions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="", index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _ts()


__all__ = [
    "AuditEntry",
    "Base",
    "Block",
    "ContactLink",
    "Follow",
    "Invite",
    "Session",
    "SignInCode",
    "SignInLink",
    "User",
]


class Room(Base):
    """A live voice room. ``seq`` numbers its events; every change takes the row's lock."""

    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(60), default="")
    kind: Mapped[str] = mapped_column(String(8))
    hand_raise: Mapped[str] = mapped_column(String(12))
    created_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(8), index=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _ts()
    ended_at: Mapped[datetime | None] = _ts(nullable=True)
    log_erased_at: Mapped[datetime | None] = _ts(nullable=True)
    """When the event log of the ended room was deleted (``room_log_retention`` after the end)."""
    moderator_gone_at: Mapped[datetime | None] = _ts(nullable=True)
    club_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("clubs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    members_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ticketed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The room of a ticketed event: only ticket holders (and its hosts) enter (S10)."""

    __table_args__ = (Index("ix_rooms_log_erased_ended", "log_erased_at", "ended_at"),)


class RoomMember(Base):
    """Someone in a live room: their role, mute, raised hand and last sign of life."""

    __tablename__ = "room_members"

    room_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    muted: Mapped[bool] = mapped_column(Boolean, default=True)
    hand_raised_at: Mapped[datetime | None] = _ts(nullable=True)
    invited_to_speak_at: Mapped[datetime | None] = _ts(nullable=True)
    joined_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()

    away_since: Mapped[datetime | None] = _ts(nullable=True)

    __table_args__ = (
        # The audience in the order people came in (snapshots, /audience pages).
        Index("ix_room_members_room_role_joined", "room_id", "role", "joined_at", "user_id"),
        Index("ix_room_members_last_seen", "last_seen_at"),
    )


class RoomBan(Base):
    """Someone removed from a room by a moderator: they cannot come back into it."""

    __tablename__ = "room_bans"

    room_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = _ts()


class RoomInvitation(Base):
    """An invitation into a social or closed room (a moderator's, or a ping)."""

    __tablename__ = "room_invitations"

    room_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = _ts()


class RoomEvent(Base):
    """The numbered event log of a room: clients resume from it while the room is live; it
    is deleted ``room_log_retention_seconds`` after the room ends."""

    __tablename__ = "room_events"

    room_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = _ts()


class Club(Base):
    """A group around an interest (S7). ``name_key`` is the name folded for uniqueness."""

    __tablename__ = "clubs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50))
    name_key: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    icon: Mapped[str | None] = mapped_column(String(64), nullable=True)
    policy: Mapped[str] = mapped_column(String(12))
    founder_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = _ts()
    subscription_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Set: members may subscribe monthly at this price (S10), paid to the founder."""
    subscription_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)


class ClubMember(Base):
    """Someone's place in a club: founder, admin, leader, member, or follower."""

    __tablename__ = "club_members"

    club_id: Mapped[int] = mapped_column(
        Id, ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = _ts()

    __table_args__ = (Index("ix_club_members_club_role", "club_id", "role", "created_at"),)


class ClubRequest(Base):
    """A pending way into a club: an application, an admin's invitation or a nomination."""

    __tablename__ = "club_requests"

    club_id: Mapped[int] = mapped_column(
        Id, ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = _ts()


class Event(Base):
    """A room booked in advance (S7). ``sequence`` grows with every change (iCalendar).
    ``public_id`` is how it is addressed from outside (links, the API, calendars); ``id``
    stays inside, since sequential numbers can be counted through."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(22), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = _ts()
    time_zone: Mapped[str] = mapped_column(String(64))
    club_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("clubs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    members_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    room_id: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    ticket_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Set: a ticketed event (S10), in minor units of ``ticket_currency``."""
    ticket_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    ticket_capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """How many tickets there are (None: no limit)."""

    __table_args__ = (Index("ix_events_starts_at", "starts_at", "public_id"),)


class EventHost(Base):
    """A host of an event, or someone asked to be one. Only ``state == "host"`` rows host:
    a co-host is ``invited`` until they accept, and a ``declined`` row keeps them from being
    invited to that event again."""

    __tablename__ = "event_hosts"

    event_id: Mapped[int] = mapped_column(
        Id, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), server_default="host")


class EventReminder(Base):
    """Someone asked to be told when this event starts."""

    __tablename__ = "event_reminders"

    event_id: Mapped[int] = mapped_column(
        Id, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = _ts()


class CalendarFeed(Base):
    """A private calendar feed address; only the token's hash is kept."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _ts()
    revoked_at: Mapped[datetime | None] = _ts(nullable=True)


class Notification(Base):
    """Something said once to many people (S9); who received it is in ``inbox``."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    created_at: Mapped[datetime] = _ts()


class InboxItem(Base):
    """One person's copy of a notification. ``state``: ``live`` (sent to their sockets),
    ``quiet`` (kept while notifications were paused), ``held`` (over the hourly cap, not
    shown yet) or ``shown`` (held, then released with a summary)."""

    __tablename__ = "inbox"

    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    notification_id: Mapped[int] = mapped_column(
        Id, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(8))
    read_at: Mapped[datetime | None] = _ts(nullable=True)
    created_at: Mapped[datetime] = _ts()

    __table_args__ = (
        Index("ix_inbox_user_created", "user_id", "created_at"),
        Index("ix_inbox_state_user", "state", "user_id"),
    )


class NotificationSettings(Base):
    """A person's notification settings; no row means the defaults."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    fewer: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[datetime | None] = _ts(nullable=True)
    hourly_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NotificationKindOff(Base):
    """A kind of notification someone turned off."""

    __tablename__ = "notification_kinds_off"

    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)


class HallwayTopic(Base):
    """A word from the titles of rooms someone joined, for ranking their hallway. Only the
    most recent few words per person are kept."""

    __tablename__ = "hallway_topics"

    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(String(40), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = _ts()


class OutboxRow(Base):
    """Work that follows a committed change (a happening to tell, a mail to send), written
    in the change's own transaction and deleted once a worker has done it. ``due_at`` is
    when it may be taken next: at once, after the lease of the worker that took it, or
    after the back-off that followed a failure."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _ts()
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Report(Base):
    """A report about a person, a room, or a person in a room (S8). The reporter is never
    shown to the person reported; ``room_snapshot`` is the room as it was when a report
    about a live room (or someone in one) was filed."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_status_id", "status", "id"),
        Index("ix_reports_subject_id_id", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    reporter_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    category: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    subject_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    room_id: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True, index=True
    )
    room_live: Mapped[bool] = mapped_column(Boolean, default=False)
    """The room was live when the report was filed."""
    room_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    closed_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    closed_at: Mapped[datetime | None] = _ts(nullable=True)
    created_at: Mapped[datetime] = _ts()


class Sanction(Base):
    """What staff did to an account (a warning, a suspension, a ban, lifting one), kept as
    the person's history; the account row holds what is in force."""

    __tablename__ = "sanctions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    until: Mapped[datetime | None] = _ts(nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    """What the person was told (a warning's words); ``reason`` is for staff only."""
    report_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("reports.id", ondelete="SET NULL"), nullable=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = _ts()


class MediaRoom(Base):
    """Which media worker holds a room's audio (docs/voice.md, "Media workers"): written
    once when the room's audio opens, changed only by compare-and-set on ``worker``, so
    two API processes never give a room two homes."""

    __tablename__ = "media_rooms"

    room_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    worker: Mapped[str] = mapped_column(String(255), index=True)
    """The worker's link address, host:port."""
    placed_at: Mapped[datetime] = _ts()


# --- S10 creators: the ledger and the provider's side (docs/creators.md) -------------------


def _person() -> Any:
    # Money records outlive an erased account: the person's id goes, the record stays.
    return mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)


class LedgerAccount(Base):
    """One account of the double-entry ledger, in one currency. ``key`` names whose it is
    (``user:12``, ``platform``, ``clearing``, ``grants``). ``balance`` is the sum of its
    lines, kept in the transaction that writes them and checked against them
    (``storage.ledger.audit``). Positive is a debit (what the platform holds or spent),
    negative a credit (what it owes: a person's earnings)."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = _person()
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _ts()

    __table_args__ = (UniqueConstraint("key", "currency", name="uq_ledger_accounts_key_currency"),)


class JournalEntry(Base):
    """One movement of money: lines that sum to zero. ``idempotency_key`` is unique, so
    the same movement asked for twice (or by two processes at once) is written once;
    ``fingerprint`` tells a repeat from a different movement under a reused key."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _ts()


class JournalLine(Base):
    """An amount, in integer minor units, on one account, as part of one entry."""

    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(Id, ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(Id, ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class Payment(Base):
    """Money a person pays through the provider (a tip, a ticket, a subscription's month).
    ``request_key`` is the payer's idempotency key (``<payer id>:<key>``): asking twice
    makes one payment. Its ledger entries are keyed by ``public_id``."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(22), unique=True)
    request_key: Mapped[str] = mapped_column(String(140), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))
    payer_id: Mapped[int | None] = _person()
    payee_id: Mapped[int | None] = _person()
    amount: Mapped[int] = mapped_column(BigInteger)
    """What the payee's side is worth (the tip, the ticket's price)."""
    fee: Mapped[int] = mapped_column(BigInteger)
    """The provider's fee, paid on top by the payer (shown before paying)."""
    platform_fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    provider: Mapped[str] = mapped_column(String(16))
    intent_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    client_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class ProviderEvent(Base):
    """A webhook event from the provider that was handled: a second delivery is a no-op."""

    __tablename__ = "provider_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    created: Mapped[datetime] = _ts()
    received_at: Mapped[datetime] = _ts()


class Payout(Base):
    """Earnings paid out to a person through the provider."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(22), unique=True)
    request_key: Mapped[str] = mapped_column(String(140), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = _person()
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class Ticket(Base):
    """A person's ticket to a ticketed event: ``reserved`` while its payment is open (it
    counts against the capacity), ``valid`` once paid, ``released`` when the payment
    failed, ``refunded`` when the event was cancelled."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(Id, ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("payments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_tickets_event_id_user_id"),)


class ClubSubscription(Base):
    """A person's paid subscription to a club (S10). ``active`` until
    ``current_period_end``; a renewal that fails makes it ``past_due`` with access kept
    until ``grace_until``; then ``expired``. Cancelled, it runs to the period's end and
    becomes ``canceled``. ``granted_membership``: the subscription made them a member, so
    its end takes that membership away (a member before keeps theirs)."""

    __tablename__ = "club_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    club_id: Mapped[int] = mapped_column(Id, ForeignKey("clubs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    periods: Mapped[int] = mapped_column(Integer, default=0)
    """Months paid so far; the next renewal's payment is keyed by it."""
    current_period_end: Mapped[datetime | None] = _ts(nullable=True)
    grace_until: Mapped[datetime | None] = _ts(nullable=True)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_membership: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

    __table_args__ = (
        UniqueConstraint("club_id", "user_id", name="uq_club_subscriptions_club_id_user_id"),
        Index("ix_club_subscriptions_due", "status", "current_period_end"),
    )
