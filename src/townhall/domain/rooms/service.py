"""Live rooms (S4): create, join, commands, presence and ending, with their events.

Every change to a room happens in one transaction that first locks the room's row, checks
the rules against the state it then reads, writes the change and appends numbered events
to the room's log. The events are published on the bus only after the commit. Two
moderators acting at the same moment are therefore applied one after the other, and each
sees the state the other left.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.bus import EventBus
from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain.rooms import rules
from townhall.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from townhall.ratelimit import RateLimiter
from townhall.storage import rooms as store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Room, RoomEvent, RoomMember, User

logger = logging.getLogger(__name__)


def room_channel(room_id: str) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def person(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": f"/files/{user.avatar}" if user.avatar else None,
    }


def member_view(m: RoomMember, u: User, group: str | None = None) -> dict[str, Any]:
    return {
        **person(u),
        "role": m.role,
        "muted": m.muted,
        "away": m.away_since is not None,
        "group": group if m.role == "listener" else None,
    }


def visible_to(audience: dict[str, Any] | None, role: str | None, username: str) -> bool:
    """May someone with ``role`` in the room (None: not in it) see an event for ``audience``?"""
    if audience is None:
        return True
    return (role is not None and role in audience.get("roles", [])) or username in audience.get(
        "users", []
    )


def event_payload(event: RoomEvent) -> str:
    """The wire form of a room event, serialised once for every recipient."""
    return json.dumps(
        {
            "type": "event",
            "stream": room_channel(event.room_id),
            "seq": event.seq,
            "name": event.name,
            "data": event.data,
            "audience": event.audience,
            "at": event.created_at.isoformat(),
        },
        separators=(",", ":"),
    )


@dataclass
class Outbox:
    """What a transaction will publish once it has committed."""

    messages: list[tuple[str, str]] = field(default_factory=list)

    def add(self, channel: str, payload: str) -> None:
        self.messages.append((channel, payload))


class Rooms:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, bus: EventBus, limiter: RateLimiter
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._limiter = limiter

    # --- plumbing ---------------------------------------------------------------------------

    async def _publish(self, outbox: Outbox) -> None:
        for channel, payload in outbox.messages:
            try:
                await self._bus.publish(channel, payload)
            except Exception:
                # The event is in the room's log; clients catch up when they resume.
                logger.exception("publishing on %s failed", channel)

    async def _emit(
        self,
        tx: AsyncSession,
        outbox: Outbox,
        room: Room,
        name: str,
        data: dict[str, Any],
        *,
        roles: list[str] | None = None,
        users: list[str] | None = None,
    ) -> None:
        """Append an event to the room's log. ``roles``/``users`` narrow who receives it."""
        room.seq += 1
        audience = None
        if roles is not None or users is not None:
            audience = {"roles": roles or [], "users": users or []}
        event = RoomEvent(
            room_id=room.id,
            seq=room.seq,
            name=name,
            data=data,
            audience=audience,
            created_at=self._clock.now(),
        )
        await store.add_event(tx, event)
        outbox.add(room_channel(room.id), event_payload(event))

    async def _locked_live(self, tx: AsyncSession, room_id: str) -> Room:
        room = await store.lock_room(tx, room_id)
        if room is None:
            raise NotFound("room_not_found", "There is no such room.")
        if room.status != "live":
            raise Gone("room_ended", "This room has ended.")
        return room

    async def _membership(self, tx: AsyncSession, room: Room, user: User) -> RoomMember:
        m = await store.member(tx, room.id, user.id)
        if m is None:
            raise Forbidden("not_in_room", "Join the room first.")
        return m

    async def _target(
        self, tx: AsyncSession, room: Room, username: str | None
    ) -> tuple[RoomMember, User]:
        if not username:
            raise InvalidInput("target_required", "Say whom this is about.")
        target = await user_store.by_username(tx, username)
        m = await store.member(tx, room.id, target.id) if target else None
        if target is None or m is None:
            raise NotFound("not_in_room", f"@{username} is not in this room.")
        return m, target

    async def _regroup(self, tx: AsyncSession, outbox: Outbox, room: Room) -> None:
        """Tell the room which listeners are followed by the speakers, after a stage change."""
        ids = await store.listeners_followed_by_stage(tx, room.id)
        names = [u.username for u in (await user_store.by_ids(tx, ids)).values()]
        await self._emit(
            tx, outbox, room, "audience.groups", {"followed_by_speakers": sorted(names)}
        )

    async def _after_moderator_change(self, tx: AsyncSession, room: Room, now: datetime) -> None:
        moderators = await store.moderator_ids(tx, room.id)
        if moderators:
            room.moderator_gone_at = None
        elif room.moderator_gone_at is None:
            room.moderator_gone_at = now

    async def _end(self, tx: AsyncSession, outbox: Outbox, room: Room, reason: str) -> None:
        now = self._clock.now()
        room.status = "ended"
        room.ended_at = now
        await store.remove_all_members(tx, room.id)
        await self._emit(tx, outbox, room, "room.ended", {"reason": reason})

    # --- creating and reading ---------------------------------------------------------------

    async def create(self, user: User, title: str, kind: str, hand_raise: str) -> dict[str, Any]:
        """Open a room; its creator is its first moderator, on stage, muted."""
        if user.status != "member":
            raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
        title = rules.check_title(title)
        rules.check_kind(kind)
        rules.check_hand_raise(hand_raise)
        await self._limiter.hit(
            f"room-create:{user.id}", self._settings.limit_room_creations_per_user
        )
        now = self._clock.now()
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.add_room(
                tx,
                Room(
                    id=secrets.token_urlsafe(9),
                    title=title,
                    kind=kind,
                    hand_raise=hand_raise,
                    created_by_id=user.id,
                    status="live",
                    seq=0,
                    created_at=now,
                ),
            )
            m = await store.add_member(
                tx,
                RoomMember(
                    room_id=room.id,
                    user_id=user.id,
                    role="moderator",
                    muted=True,
                    joined_at=now,
                    last_seen_at=now,
                ),
            )
            await self._emit(tx, outbox, room, "room.created", {"title": title, "kind": kind})
            await self._emit(tx, outbox, room, "member.joined", member_view(m, user))
            snapshot = await self._snapshot(tx, room, user)
        await self._publish(outbox)
        logger.info("room %s created by user %s", room.id, user.id)
        return snapshot

    async def snapshot(self, user: User, room_id: str) -> dict[str, Any]:
        """The whole state of a room as ``user`` may see it, with the last event number.

        Someone outside a live room sees it only if they may join it."""
        async with self._db.transaction() as tx:
            room = await self._readable(tx, room_id, user)
            return await self._snapshot(tx, room, user)

    async def _readable(self, tx: AsyncSession, room_id: str, user: User) -> Room:
        room = await store.room(tx, room_id)
        if room is None:
            raise NotFound("room_not_found", "There is no such room.")
        if room.status == "live" and await store.member(tx, room.id, user.id) is None:
            refusal = await self._may_enter(tx, room, user)
            if refusal is not None:
                raise refusal
        return room

    async def events_for(self, user: User, room_id: str, seq: int) -> dict[str, Any]:
        """``{"events": [...]}`` after ``seq`` that ``user`` may see (by their role in the
        room or by name), or ``{"snapshot": {...}}`` when too many passed to replay."""
        backlog = self._settings.room_event_backlog
        async with self._db.transaction() as tx:
            room = await self._readable(tx, room_id, user)
            if seq < 0 or seq > room.seq:
                raise InvalidInput("invalid_seq", "That event number is not of this room.")
            if room.seq - seq > backlog:
                return {"snapshot": await self._snapshot(tx, room, user)}
            me = await store.member(tx, room.id, user.id)
            role = me.role if me is not None else None
            events = await store.events_after(tx, room_id, seq, backlog)
        return {
            "events": [
                {"seq": e.seq, "name": e.name, "data": e.data, "at": e.created_at.isoformat()}
                for e in events
                if visible_to(e.audience, role, user.username)
            ]
        }

    async def _snapshot(self, tx: AsyncSession, room: Room, viewer: User) -> dict[str, Any]:
        rows = await store.members(tx, room.id)
        me = next((m for m, u in rows if u.id == viewer.id), None)
        followed = set(await store.listeners_followed_by_stage(tx, room.id))
        stage: list[dict[str, Any]] = []
        audience: list[dict[str, Any]] = []
        hands: list[tuple[datetime, str]] = []
        for m, u in rows:
            group = "followed_by_speakers" if u.id in followed else "others"
            view = member_view(m, u, group)
            (stage if m.role in rules.STAGE_ROLES else audience).append(view)
            if m.hand_raised_at is not None:
                hands.append((m.hand_raised_at, u.username))
        moderator = me is not None and me.role == "moderator"
        return {
            "id": room.id,
            "title": room.title,
            "kind": room.kind,
            "hand_raise": room.hand_raise,
            "status": room.status,
            "seq": room.seq,
            "created_at": room.created_at.isoformat(),
            "stage": stage,
            "audience": audience,
            "listeners": len(audience),
            "hands": [name for _, name in sorted(hands)] if moderator else None,
            "me": None
            if me is None
            else {
                "role": me.role,
                "muted": me.muted,
                "hand_raised": me.hand_raised_at is not None,
                "invited_to_speak": me.invited_to_speak_at is not None,
            },
        }

    async def events_after(self, user: User, room_id: str, seq: int) -> list[RoomEvent] | None:
        """The room's events after ``seq``, or None when too many passed (take a snapshot)."""
        backlog = self._settings.room_event_backlog
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            if seq < 0 or seq > room.seq:
                raise InvalidInput("invalid_seq", "That event number is not of this room.")
            if room.seq - seq > backlog:
                return None
            return await store.events_after(tx, room_id, seq, backlog)

    async def preview(self, room_id: str) -> dict[str, Any]:
        """What a share link shows to anyone: title, who is on stage, how many listen."""
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            rows = await store.members(tx, room.id)
        return {
            "id": room.id,
            "title": room.title,
            "status": room.status,
            "stage": [
                {**person(u), "role": m.role} for m, u in rows if m.role in rules.STAGE_ROLES
            ],
            "listeners": sum(1 for m, _ in rows if m.role == "listener"),
        }

    async def live(self, user: User, limit: int = 50) -> list[dict[str, Any]]:
        """Live rooms ``user`` may join, newest first (the ranked hallway comes later)."""
        out = []
        async with self._db.transaction() as tx:
            for room in await store.live_rooms(tx, limit * 3):
                if await self._may_enter(tx, room, user) is None:
                    counts = await store.count_roles(tx, room.id)
                    rows = await store.members(tx, room.id)
                    out.append(
                        {
                            "id": room.id,
                            "title": room.title,
                            "kind": room.kind,
                            "stage": [
                                {**person(u), "role": m.role}
                                for m, u in rows
                                if m.role in rules.STAGE_ROLES
                            ],
                            "listeners": counts["listener"],
                        }
                    )
                if len(out) >= limit:
                    break
        return out

    # --- joining and leaving -----------------------------------------------------------------

    async def _may_enter(self, tx: AsyncSession, room: Room, user: User) -> Forbidden | None:
        if await store.is_banned(tx, room.id, user.id):
            return Forbidden("removed_from_room", "A moderator removed you from this room.")
        moderators = await store.moderator_ids(tx, room.id)
        if await store.blocked_by_any(tx, user.id, moderators):
            return Forbidden("blocked_by_moderator", "You cannot join this room.")
        if room.kind == "open" or room.created_by_id == user.id:
            return None
        if await store.is_invited(tx, room.id, user.id):
            return None
        if room.kind == "social" and await store.followed_by_any(tx, user.id, moderators):
            return None
        return Forbidden(
            "room_not_open_to_you", f"This room is {room.kind}; you need an invitation."
        )

    async def join(self, user: User, room_id: str) -> dict[str, Any]:
        """Enter a room, always into the audience, muted. Joining again keeps your role."""
        if user.status != "member":
            raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
        now = self._clock.now()
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            m = await store.member(tx, room.id, user.id)
            if m is not None:
                m.last_seen_at = now
                if m.away_since is not None:
                    m.away_since = None
                    await self._emit(tx, outbox, room, "member.back", {"username": user.username})
            else:
                refusal = await self._may_enter(tx, room, user)
                if refusal is not None:
                    raise refusal
                counts = await store.count_roles(tx, room.id)
                if counts["listener"] >= self._settings.room_listener_capacity:
                    raise Conflict("room_full", "This room is full.")
                m = await store.add_member(
                    tx,
                    RoomMember(
                        room_id=room.id,
                        user_id=user.id,
                        role="listener",
                        muted=True,
                        joined_at=now,
                        last_seen_at=now,
                    ),
                )
                stage = await store.stage_ids(tx, room.id)
                group = (
                    "followed_by_speakers"
                    if await store.followed_by_any(tx, user.id, stage)
                    else "others"
                )
                await self._emit(tx, outbox, room, "member.joined", member_view(m, user, group))
            snapshot = await self._snapshot(tx, room, user)
        await self._publish(outbox)
        return snapshot

    async def leave(self, user: User, room_id: str) -> None:
        """Leave quietly: nobody is told but the room's own member list."""
        await self.command(user, room_id, "leave")

    async def _remove_member(
        self, tx: AsyncSession, outbox: Outbox, room: Room, m: RoomMember, user: User, reason: str
    ) -> None:
        was_on_stage = m.role in rules.STAGE_ROLES
        await store.remove_member(tx, room.id, user.id)
        await self._emit(
            tx, outbox, room, "member.left", {"username": user.username, "reason": reason}
        )
        counts = await store.count_roles(tx, room.id)
        if sum(counts.values()) == 0:
            await self._end(tx, outbox, room, "empty")
            return
        if m.role == "moderator":
            # A moderator who vanished has used up the grace period while away.
            await self._after_moderator_change(tx, room, m.away_since or self._clock.now())
        if was_on_stage:
            await self._regroup(tx, outbox, room)

    # --- commands ----------------------------------------------------------------------------

    async def command(self, user: User, room_id: str, action: str, **args: Any) -> dict[str, Any]:
        """Run one room command as ``user``; see ``rules.PERMISSIONS``."""
        if action not in rules.PERMISSIONS:
            raise InvalidInput("unknown_command", f"There is no room command {action!r}.")
        if action == "ping":
            await self._limiter.hit(f"ping:{user.id}", self._settings.limit_pings_per_user)
        now = self._clock.now()
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            me = await self._membership(tx, room, user)
            rules.check_permission(action, me.role)
            handler = getattr(self, f"_do_{action}")
            result = await handler(tx, outbox, room, me, user, now, **args)
        await self._publish(outbox)
        return result or {"ok": True}

    async def _do_leave(self, tx, outbox, room, me, user, now):
        await self._remove_member(tx, outbox, room, me, user, "left")

    async def _do_raise_hand(self, tx, outbox, room, me, user, now):
        if room.hand_raise == "off":
            raise Forbidden("hands_off", "Hand raising is off in this room.")
        if room.hand_raise == "followed":
            stage = await store.stage_ids(tx, room.id)
            if not await store.followed_by_any(tx, user.id, stage):
                raise Forbidden(
                    "hands_followed_only", "Only people the speakers follow can raise a hand."
                )
        if me.hand_raised_at is not None:
            raise Conflict("hand_already_raised", "Your hand is already raised.")
        # The queue is ordered by this time: keep it strictly after the last hand raised,
        # so that two hands raised within one clock tick still keep their order.
        last = await store.last_hand_raised_at(tx, room.id)
        me.hand_raised_at = max(now, last + timedelta(microseconds=1)) if last else now
        await self._emit(
            tx,
            outbox,
            room,
            "hand.raised",
            {"username": user.username},
            roles=["moderator"],
            users=[user.username],
        )

    async def _do_lower_hand(self, tx, outbox, room, me, user, now):
        if me.hand_raised_at is None:
            raise Conflict("hand_not_raised", "Your hand is not raised.")
        me.hand_raised_at = None
        await self._emit(
            tx,
            outbox,
            room,
            "hand.lowered",
            {"username": user.username},
            roles=["moderator"],
            users=[user.username],
        )

    async def _do_invite_to_speak(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if m.role != "listener":
            raise Conflict("already_on_stage", f"@{person_.username} is already on stage.")
        if m.invited_to_speak_at is not None:
            raise Conflict("already_invited", f"@{person_.username} was already invited.")
        await self._check_can_go_on_stage(tx, room, person_)
        m.invited_to_speak_at = now
        await self._emit(
            tx,
            outbox,
            room,
            "speak.invited",
            {"username": person_.username, "by": user.username},
            roles=["moderator"],
            users=[person_.username],
        )

    async def _check_can_go_on_stage(self, tx: AsyncSession, room: Room, u: User) -> None:
        stage = await store.stage_ids(tx, room.id)
        if len(stage) >= self._settings.room_stage_capacity:
            raise Conflict("stage_full", "The stage is full.")
        if await store.blocked_by_any(tx, u.id, stage):
            raise Forbidden(
                "blocked_by_stage",
                "Someone on stage blocked this person; they cannot join the stage.",
            )

    async def _do_accept_speak(self, tx, outbox, room, me, user, now):
        if me.invited_to_speak_at is None:
            raise Conflict("not_invited", "Nobody invited you to speak.")
        await self._check_can_go_on_stage(tx, room, user)
        me.role, me.muted = "speaker", True
        me.invited_to_speak_at = None
        me.hand_raised_at = None
        await self._emit(tx, outbox, room, "member.updated", member_view(me, user))
        await self._regroup(tx, outbox, room)

    async def _do_decline_speak(self, tx, outbox, room, me, user, now):
        if me.invited_to_speak_at is None:
            raise Conflict("not_invited", "Nobody invited you to speak.")
        me.invited_to_speak_at = None
        await self._emit(
            tx,
            outbox,
            room,
            "speak.declined",
            {"username": user.username},
            roles=["moderator"],
            users=[user.username],
        )

    async def _set_muted(self, tx, outbox, room, m, u, muted):
        if m.muted and muted:
            raise Conflict("already_muted", "Already muted.")
        if not m.muted and not muted:
            raise Conflict("already_unmuted", "Already unmuted.")
        m.muted = muted
        await self._emit(tx, outbox, room, "member.updated", member_view(m, u))

    async def _do_mute(self, tx, outbox, room, me, user, now):
        await self._set_muted(tx, outbox, room, me, user, True)

    async def _do_unmute(self, tx, outbox, room, me, user, now):
        await self._set_muted(tx, outbox, room, me, user, False)

    async def _do_mute_speaker(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if m.role not in rules.STAGE_ROLES:
            raise Conflict("not_on_stage", f"@{person_.username} is not on stage.")
        await self._set_muted(tx, outbox, room, m, person_, True)

    async def _to_audience(self, tx, outbox, room, m, u, now):
        was_moderator = m.role == "moderator"
        m.role, m.muted = "listener", True
        m.hand_raised_at = m.invited_to_speak_at = None
        await self._emit(tx, outbox, room, "member.updated", member_view(m, u, "others"))
        if was_moderator:
            await self._after_moderator_change(tx, room, now)
        await self._regroup(tx, outbox, room)

    async def _do_step_down(self, tx, outbox, room, me, user, now):
        await self._to_audience(tx, outbox, room, me, user, now)

    async def _do_move_to_audience(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if m.role == "listener":
            raise Conflict("not_on_stage", f"@{person_.username} is not on stage.")
        if m.role == "moderator" and person_.id != user.id:
            raise Conflict("target_is_moderator", "Remove their moderator status first.")
        await self._to_audience(tx, outbox, room, m, person_, now)

    async def _do_make_moderator(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if m.role == "moderator":
            raise Conflict("already_moderator", f"@{person_.username} is already a moderator.")
        if m.role != "speaker":
            raise Conflict("not_on_stage", "Bring them on stage first.")
        m.role = "moderator"
        await self._emit(tx, outbox, room, "member.updated", member_view(m, person_))

    async def _do_remove_moderator(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if m.role != "moderator":
            raise Conflict("not_moderator", f"@{person_.username} is not a moderator.")
        m.role = "speaker"
        await self._emit(tx, outbox, room, "member.updated", member_view(m, person_))
        await self._after_moderator_change(tx, room, now)

    async def _do_remove(self, tx, outbox, room, me, user, now, target=None):
        m, person_ = await self._target(tx, room, target)
        if person_.id == user.id:
            raise InvalidInput("cannot_remove_self", "Leave the room instead.")
        if m.role == "moderator":
            raise Conflict("target_is_moderator", "Remove their moderator status first.")
        await store.ban(tx, room.id, person_.id, now)
        await self._remove_member(tx, outbox, room, m, person_, "removed")
        outbox.add(user_channel(person_.id), _notice("room.removed", {"room": room.id}))

    async def _do_set_kind(self, tx, outbox, room, me, user, now, kind=None):
        kind = rules.check_kind(kind or "")
        if rules.OPENNESS[kind] < rules.OPENNESS[room.kind]:
            raise Conflict("cannot_narrow", "A room can be opened up, never closed down.")
        if kind == room.kind:
            raise Conflict("unchanged", f"The room is already {kind}.")
        room.kind = kind
        await self._emit(tx, outbox, room, "room.updated", {"kind": kind})

    async def _do_set_hand_raise(self, tx, outbox, room, me, user, now, mode=None):
        room.hand_raise = rules.check_hand_raise(mode or "")
        await self._emit(tx, outbox, room, "room.updated", {"hand_raise": room.hand_raise})

    async def _do_rename(self, tx, outbox, room, me, user, now, title=None):
        room.title = rules.check_title(title or "")
        await self._emit(tx, outbox, room, "room.updated", {"title": room.title})

    async def _do_end(self, tx, outbox, room, me, user, now):
        await self._end(tx, outbox, room, "ended_by_moderator")

    async def _do_ping(self, tx, outbox, room, me, user, now, target=None):
        if not target:
            raise InvalidInput("target_required", "Say whom to ping.")
        person_ = await user_store.by_username(tx, target)
        if person_ is None or not await store.follows(tx, person_.id, user.id):
            raise Forbidden("not_a_follower", "You can ping only people who follow you.")
        if await store.member(tx, room.id, person_.id) is not None:
            raise Conflict("already_in_room", f"@{person_.username} is already here.")
        if await store.is_banned(tx, room.id, person_.id):
            raise Forbidden("removed_from_room", f"@{person_.username} was removed from this room.")
        await store.invite(tx, room.id, person_.id, user.id, now)
        outbox.add(
            user_channel(person_.id),
            _notice(
                "room.pinged",
                {
                    "room": room.id,
                    "title": room.title,
                    "by": person(user),
                    "link": f"{self._settings.resolved_public_url}/r/{room.id}",
                },
            ),
        )

    # --- presence ----------------------------------------------------------------------------

    async def touch(self, room_id: str, user_ids: list[int]) -> None:
        """Members of ``room_id`` whose sockets are open here are alive now."""
        async with self._db.transaction() as tx:
            await store.touch(tx, room_id, user_ids, self._clock.now())

    async def sweep(self) -> None:
        """Mark silent members away, remove those gone for good, end rooms left without a
        moderator past the grace period. Safe to run in every process at once."""
        s = self._settings
        now = self._clock.now()
        away_after = now - timedelta(seconds=s.room_presence_timeout_seconds)
        async with self._db.transaction() as tx:
            stale = await store.stale_members(tx, away_after)
            back = await store.back_members(tx, away_after)
        for room_id, user_id in back:
            await self._presence_change(room_id, user_id, now, "back")
        for room_id, user_id, role, away_since in stale:
            window = (
                s.room_moderator_grace_seconds if role == "moderator" else s.room_reconnect_seconds
            )
            if away_since is None:
                await self._presence_change(room_id, user_id, now, "away")
            elif away_since <= now - timedelta(seconds=window):
                await self._presence_change(room_id, user_id, now, "gone")
        async with self._db.transaction() as tx:
            orphaned = await store.rooms_without_moderator(
                tx, now - timedelta(seconds=s.room_moderator_grace_seconds)
            )
        for room_id in orphaned:
            outbox = Outbox()
            async with self._db.transaction() as tx:
                room = await store.lock_room(tx, room_id)
                if (
                    room is not None
                    and room.status == "live"
                    and not await store.moderator_ids(tx, room_id)
                ):
                    await self._end(tx, outbox, room, "no_moderator")
            await self._publish(outbox)

    async def _presence_change(
        self, room_id: str, user_id: int, now: datetime, change: str
    ) -> None:
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.lock_room(tx, room_id)
            m = await store.member(tx, room_id, user_id)
            u = await user_store.by_id(tx, user_id)
            if room is None or room.status != "live" or m is None or u is None:
                return
            if change == "away" and m.away_since is None:
                m.away_since = now
                await self._emit(tx, outbox, room, "member.away", {"username": u.username})
            elif change == "back" and m.away_since is not None:
                m.away_since = None
                await self._emit(tx, outbox, room, "member.back", {"username": u.username})
            elif change == "gone":
                await self._remove_member(tx, outbox, room, m, u, "disconnected")
        await self._publish(outbox)

    # --- for the WebSocket gateway ---------------------------------------------------------

    async def role_of(self, user: User, room_id: str) -> str | None:
        """``user``'s current role in the room, or None when they are not in it."""
        async with self._db.transaction() as tx:
            if await store.room(tx, room_id) is None:
                raise NotFound("room_not_found", "There is no such room.")
            m = await store.member(tx, room_id, user.id)
            return m.role if m is not None else None


def _notice(name: str, data: dict[str, Any]) -> str:
    """A personal, unnumbered event for one person's own stream."""
    return json.dumps({"type": "notice", "name": name, "data": data}, separators=(",", ":"))
