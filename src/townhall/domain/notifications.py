"""Notifications (S9): turn happenings into inbox items, deliver them live, keep the inbox.

The service listens to ``Happenings``. For each happening of a known kind it stores the
notification once and fans it out to the recipients' inboxes in one SQL statement (see
``storage.notifications.fan_out``), then tells the sockets of those who get it live:

- up to ``notification_direct_max`` people: one message per person, on their own channel
  ``user:<id>``;
- more: one message on the shared channel ``notifications`` carrying the list of ids, which
  each process's socket gateway hands to the local sockets of those people only. A person
  with ten thousand followers costs one bus message, not ten thousand.

The hourly cap needs no timer per person: items over the cap are stored ``held``; the
periodic ``sweep`` finds people who are under their cap again and releases their held
items with one ``summary`` notification ("and 7 more").
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from townhall.bus import EventBus, channels
from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain.happenings import Happening
from townhall.domain.outbox import OutboxWorker
from townhall.domain.push import BATCH as PUSH_BATCH
from townhall.domain.push import TOPIC as PUSH_TOPIC
from townhall.domain.views import PersonView, person_data
from townhall.errors import InvalidInput, NotFound
from townhall.mail import MAIL_TOPIC, Mail
from townhall.storage import graph as graph_store
from townhall.storage import notifications as store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Notification, User

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
PAUSE_MAX_HOURS = 24 * 7
CAP_MAX = 1000


@dataclass(frozen=True)
class Kind:
    important: bool
    """Still sent to people who asked for fewer notifications."""
    description: str


KINDS: dict[str, Kind] = {
    "room.started": Kind(False, "Someone you follow started a room."),
    "room.speaking": Kind(False, "Someone you follow went on stage."),
    "room.pinged": Kind(True, "Someone pinged you into a room."),
    "event.scheduled": Kind(False, "An event by people or a club you follow was scheduled."),
    "event.cohost_invited": Kind(True, "Someone asked you to co-host their event."),
    "event.starting": Kind(True, "An event you follow or asked to be reminded of starts."),
    "event.cancelled": Kind(True, "An event you follow or asked to be reminded of is off."),
    "user.followed": Kind(False, "Someone followed you."),
    "invitee.joined": Kind(True, "Someone you invited joined."),
    "contact.waitlisted": Kind(False, "People in your contacts are on the waitlist."),
    "club.invited": Kind(True, "You were invited into a club."),
    "club.nominated": Kind(False, "You were nominated for a club."),
    "club.approved": Kind(True, "You were let into a club."),
    "report.outcome": Kind(True, "What happened to a report you filed."),
    "account.warned": Kind(True, "Staff warned, suspended or banned your account."),
    "waitlist.admitted": Kind(True, "You were let in from the waitlist (also mailed)."),
}
"""Every kind a person may turn on or off. ``summary`` (held items released) is not one."""

SUMMARY = "summary"


@dataclass(frozen=True)
class Item:
    """One notification in its recipient's inbox."""

    id: int
    name: str
    """The kind (a key of ``KINDS``, or ``summary``)."""
    actor: PersonView | None
    data: dict[str, Any]
    at: datetime
    read: bool
    you_follow_actor: bool | None = None
    """Whether the reader follows the actor now (None without an actor): "Follow back"."""
    room_live: bool | None = None
    """Whether the room the notification is about is still live (None when it names no
    room): a room that ended is no longer offered to join."""


@dataclass(frozen=True)
class NotificationSettingsView:
    kinds: dict[str, bool]
    fewer: bool
    paused_until: datetime | None
    hourly_cap: int


def live_item(n: Notification, actor: User | None) -> dict[str, Any]:
    """A new notification as its recipients' sockets and pushes carry it: the inbox item
    (the API's ``NotificationOut``) without what depends on each reader."""
    return {
        "id": n.id,
        "name": n.kind,
        "actor": person_data(actor) if actor else None,
        "data": n.data,
        "at": n.created_at.isoformat(),
        "read": False,
    }


def live_payload(n: Notification, actor: User | None) -> str:
    """The live item with ``type`` added, written here because it goes on the bus."""
    return json.dumps({"type": "notification", **live_item(n, actor)}, separators=(",", ":"))


class Notifications:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, bus: EventBus, outbox: OutboxWorker
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._outbox = outbox

    # --- from happenings to inboxes ---------------------------------------------------------

    async def on_happening(self, h: Happening) -> None:
        """The listener: store, fan out and deliver one happening of a known kind.

        Told again (a redelivery from the outbox), a happening finds its key stored and is
        not said twice. Reminder mails go through the outbox too, written with the
        notification: sent at least once, never from the request that started the event."""
        kind = KINDS.get(h.kind)
        if kind is None:
            return
        now = self._clock.now()
        audience = store.Audience(
            users=h.recipients.users,
            followers_of=h.recipients.followers_of,
            club=h.recipients.club,
            event=h.recipients.event,
        )
        rules = store.Rules(
            kind=h.kind,
            important=kind.important,
            actor_id=h.actor_id,
            now=now,
            hour_ago=now - timedelta(hours=1),
            default_cap=self._settings.notification_hourly_cap,
        )
        async with self._db.transaction() as tx:
            actor = await user_store.by_id(tx, h.actor_id) if h.actor_id else None
            if h.actor_id and actor is None:
                return  # their account was deleted since: nothing of theirs is said
            nid = await store.add_notification(tx, h.kind, h.actor_id, h.data, h.key, now)
            if nid is None:
                return  # said before
            count = await store.fan_out(tx, nid, audience, rules)
            live = await store.recipients_in(tx, nid, ("live",))
            if h.kind == "event.starting" and h.recipients.event is not None:
                emails = await store.reminded_emails(tx, nid, h.recipients.event)
                mails = [self._reminder(email, h.data).to_json() for email in emails]
                await self._outbox.put(tx, MAIL_TOPIC, *mails)
            note = Notification(
                id=nid, kind=h.kind, actor_id=h.actor_id, data=h.data, created_at=now
            )
            await self._push(tx, live, live_item(note, actor))
            if h.kind == "waitlist.admitted":
                # Mailed whatever their settings: it is the news they signed up waiting for.
                emails = await store.emails_of(tx, list(h.recipients.users))
                mails = [self._welcome(email, actor).to_json() for email in emails]
                await self._outbox.put(tx, MAIL_TOPIC, *mails)
        logger.info("notification %s (%s) to %s people, %s live", nid, h.kind, count, len(live))
        await self._deliver(live, live_payload(note, actor))

    async def _push(self, tx: Any, user_ids: list[int], item: dict[str, Any]) -> None:
        """Web Push for what was delivered live, in the change's transaction: the push
        service's handler (``domain/push.py``) finds who has a device subscribed."""
        if self._settings.push_daily_cap <= 0 or not user_ids:
            return
        rows = [
            {"users": user_ids[i : i + PUSH_BATCH], "item": item}
            for i in range(0, len(user_ids), PUSH_BATCH)
        ]
        await self._outbox.put(tx, PUSH_TOPIC, *rows)

    async def _deliver(self, user_ids: list[int], payload: str) -> None:
        try:
            if len(user_ids) > self._settings.notification_direct_max:
                await self._bus.publish(
                    channels.NOTIFICATIONS, channels.addressed(user_ids, payload)
                )
                return
            for uid in user_ids:
                await self._bus.publish(channels.user(uid), payload)
        except Exception:
            # Stored in the inbox already; the client finds it there.
            logger.exception("publishing a notification failed")

    def _reminder(self, email: str, data: dict[str, Any]) -> Mail:
        name = str(data.get("name") or "An event")
        link = data.get("url") or data.get("link") or self._settings.resolved_public_url
        return Mail(
            to=email,
            subject=f"Starting now: {name}",
            body=(
                f"{name} is starting now on Townhall.\n\n{link}\n\n"
                "You receive this because you asked to be reminded of this event. Turn "
                "event reminders off in your notification settings.\n"
            ),
        )

    def _welcome(self, email: str, by: User | None) -> Mail:
        who = f"{by.display_name or '@' + by.username} let you in" if by else "You are in"
        return Mail(
            to=email,
            subject="You're in: welcome to Townhall",
            body=(
                f"{who}: your place on the Townhall waitlist is over, and you are a member "
                f"now.\n\nCome in: {self._settings.resolved_public_url}/\n\n"
                "You receive this because you signed up and were waiting to be let in.\n"
            ),
        )

    # --- the hourly cap -------------------------------------------------------------------

    async def sweep(self) -> None:
        """Release the held items of people under their hourly cap again, one summary each.
        Safe to run in every process at once: each person's release is one transaction."""
        now = self._clock.now()
        hour_ago = now - timedelta(hours=1)
        cap = self._settings.notification_hourly_cap
        async with self._db.transaction() as tx:
            users = await store.users_to_release(tx, hour_ago, cap, SWEEP_BATCH)
        for uid in users:
            async with self._db.transaction() as tx:
                # The settings row's lock makes a second sweeper find nothing left to release.
                await store.lock_settings(tx, uid)
                kinds = await store.release_held(tx, uid)
                if not kinds:
                    continue
                data = {"count": sum(kinds.values()), "kinds": kinds}
                nid = await store.add_notification(tx, SUMMARY, None, data, None, now)
                assert nid is not None
                await store.add_item(tx, uid, nid, "live", now)
                note = Notification(id=nid, kind=SUMMARY, actor_id=None, data=data, created_at=now)
                await self._push(tx, [uid], live_item(note, None))
            await self._deliver([uid], live_payload(note, None))

    # --- the inbox ------------------------------------------------------------------------

    async def inbox(
        self, user: User, after: tuple[int] | None, limit: int
    ) -> tuple[list[Item], tuple[int] | None]:
        """The person's notifications, newest first, and the key ``(id,)`` to continue
        after (None on the last page)."""
        async with self._db.transaction() as tx:
            rows, next_key = await store.page(tx, user.id, after, limit)
            actors = {a.id for _, _, a in rows if a is not None}
            followed = await graph_store.followed_among(tx, user.id, sorted(actors))
            rooms = {str(n.data["room"]) for n, _, _ in rows if isinstance(n.data.get("room"), str)}
            live = await store.live_rooms_among(tx, sorted(rooms))
        items = [
            Item(
                id=n.id,
                name=n.kind,
                actor=PersonView.of(actor) if actor else None,
                data=n.data,
                at=n.created_at,
                read=i.read_at is not None,
                you_follow_actor=actor.id in followed if actor else None,
                room_live=n.data["room"] in live if isinstance(n.data.get("room"), str) else None,
            )
            for n, i, actor in rows
        ]
        return items, next_key

    async def unread(self, user: User) -> int:
        async with self._db.transaction() as tx:
            return await store.unread(tx, user.id)

    async def mark_read(self, user: User, notification_id: int) -> None:
        async with self._db.transaction() as tx:
            if not await store.has_item(tx, user.id, notification_id):
                raise NotFound("notification_not_found", "There is no such notification.")
            await store.mark_read(tx, user.id, self._clock.now(), notification_id)

    async def mark_all_read(self, user: User) -> int:
        async with self._db.transaction() as tx:
            return await store.mark_read(tx, user.id, self._clock.now())

    # --- settings -------------------------------------------------------------------------

    async def settings(self, user: User) -> NotificationSettingsView:
        async with self._db.transaction() as tx:
            row, off = await store.settings_of(tx, user.id)
        return self._view(row, off)

    def _view(self, row: Any, off: list[str]) -> NotificationSettingsView:
        now = self._clock.now()
        paused = row.paused_until if row and row.paused_until and row.paused_until > now else None
        return NotificationSettingsView(
            kinds={k: k not in off for k in KINDS},
            fewer=bool(row and row.fewer),
            paused_until=paused,
            hourly_cap=(row.hourly_cap if row and row.hourly_cap else None)
            or self._settings.notification_hourly_cap,
        )

    async def update_settings(
        self,
        user: User,
        *,
        kinds: dict[str, bool] | None = None,
        fewer: bool | None = None,
        pause_hours: int | None = None,
        hourly_cap: int | None = None,
    ) -> NotificationSettingsView:
        """Change only what is given. ``pause_hours=0`` resumes at once."""
        for kind in kinds or {}:
            if kind not in KINDS:
                raise InvalidInput("unknown_notification_kind", f"There is no kind {kind!r}.")
        if pause_hours is not None and not 0 <= pause_hours <= PAUSE_MAX_HOURS:
            raise InvalidInput("invalid_pause", f"Pause for 0 to {PAUSE_MAX_HOURS} hours.")
        if hourly_cap is not None and not 1 <= hourly_cap <= CAP_MAX:
            raise InvalidInput("invalid_hourly_cap", f"The hourly cap is between 1 and {CAP_MAX}.")
        now = self._clock.now()
        async with self._db.transaction() as tx:
            row = await store.lock_settings(tx, user.id)
            if fewer is not None:
                row.fewer = fewer
            if pause_hours is not None:
                row.paused_until = now + timedelta(hours=pause_hours) if pause_hours else None
            if hourly_cap is not None:
                row.hourly_cap = hourly_cap
            for kind, on in (kinds or {}).items():
                await store.set_kind(tx, user.id, kind, on)
            await tx.flush()
            saved, off = await store.settings_of(tx, user.id)
        return self._view(saved, off)


__all__ = ["KINDS", "Item", "Notifications"]
