"""One change to one room: the steps every room transaction is made of.

A ``RoomChange`` lives inside a transaction that holds the room's row lock; its steps
read and write through that transaction and collect events in its outbox, which the
service publishes after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.bus import channels
from townhall.config import Settings
from townhall.domain import usernames
from townhall.domain.rooms import rules
from townhall.domain.rooms.events import Audience, Outbox, event_payload
from townhall.domain.standing import require_good_standing
from townhall.errors import Conflict, Forbidden, NotFound
from townhall.storage import rooms as store
from townhall.storage import users as user_store
from townhall.storage.models import Room, RoomEvent, RoomMember, User

HALLWAY_EVENTS = frozenset(
    {"room.created", "room.ended", "room.updated", "member.joined", "member.left", "member.updated"}
)
"""Events that change what a room looks like in the hallway."""


@dataclass
class RoomChange:
    tx: AsyncSession
    room: Room
    now: datetime
    settings: Settings
    outbox: Outbox

    async def emit(
        self,
        name: str,
        data: dict[str, Any],
        audience: Audience | None = None,
    ) -> None:
        """Append an event to the room's log; an ``audience`` narrows who may see it."""
        self.room.seq += 1
        event = RoomEvent(
            room_id=self.room.id,
            seq=self.room.seq,
            name=name,
            data=data,
            audience=None if audience is None else audience.as_json(),
            created_at=self.now,
        )
        await store.add_event(self.tx, event)
        self.outbox.add(channels.room(self.room.id), event_payload(event))
        if name in HALLWAY_EVENTS:
            self.outbox.hallway = True

    async def target(self, username: str) -> tuple[RoomMember, User]:
        """The member a command names."""
        target = await usernames.find(self.tx, username)
        m = await store.member(self.tx, self.room.id, target.id) if target else None
        if target is None or m is None:
            raise NotFound("not_in_room", f"@{username} is not in this room.")
        return m, target

    async def followed_listeners(self) -> list[int]:
        """Listeners followed by someone on stage (the audience's first group)."""
        return await store.listeners_followed_by_stage(self.tx, self.room.id)

    async def regroup(self, before: list[int]) -> None:
        """After a stage change, tell the room which listeners are now followed by the
        speakers, unless that group is what it was ``before`` the change: in a large room
        every event costs a send per listener."""
        ids = await self.followed_listeners()
        if ids == before:
            return
        names = [u.username for u in (await user_store.by_ids(self.tx, ids)).values()]
        await self.emit("audience.groups", {"followed_by_speakers": sorted(names)})

    async def moderators_changed(self, when: datetime) -> None:
        """Start (or stop) the grace period of a room without a moderator."""
        if await store.moderator_ids(self.tx, self.room.id):
            self.room.moderator_gone_at = None
        elif self.room.moderator_gone_at is None:
            self.room.moderator_gone_at = when

    async def check_can_go_on_stage(self, u: User) -> None:
        require_good_standing(u, self.now)
        stage = await store.stage_ids(self.tx, self.room.id)
        if len(stage) >= self.settings.room_stage_capacity:
            raise Conflict("stage_full", "The stage is full.")
        if await store.blocked_by_any(self.tx, u.id, stage):
            raise Forbidden(
                "blocked_by_stage",
                "Someone on stage blocked this person; they cannot join the stage.",
            )

    async def end(self, reason: str) -> None:
        await store.lock_audience(self.tx, self.room.id)
        self.room.status = "ended"
        self.room.ended_at = self.now
        await store.remove_all_members(self.tx, self.room.id)
        await self.emit("room.ended", {"reason": reason})

    def listener_changed(self, user: User, went: bool = False) -> None:
        """A listener came in, went away, came back or went: told through the room's
        roster (``domain/rooms/audience.py``), never as a numbered event for everyone."""
        self.outbox.add(
            channels.roster(self.room.id),
            channels.roster_change(self.room.id, user.id, user.username, went),
        )
        self.outbox.audience = True

    def listener_went(self, user: User, reason: str) -> None:
        """A listener is out of the room: the roster is told, and their own streams end,
        wherever they are open."""
        self.listener_changed(user, went=True)
        self.outbox.add(
            channels.user(user.id),
            channels.notice("room.left", {"room": self.room.id, "reason": reason}),
        )

    async def remove_member(self, m: RoomMember, user: User, reason: str) -> None:
        """Take someone out of the room; the room ends when nobody is left."""
        was_on_stage = m.role in rules.STAGE_ROLES
        # Counted with the listeners leaving on their own (without this row lock).
        await store.lock_audience(self.tx, self.room.id)
        before = await self.followed_listeners() if was_on_stage else []
        await store.remove_member(self.tx, self.room.id, user.id)
        if was_on_stage:
            await self.emit("member.left", {"username": user.username, "reason": reason})
        else:
            self.listener_went(user, reason)
        if not await store.anyone_in(self.tx, self.room.id):
            await self.end("empty")
            return
        if m.role == "moderator":
            # A moderator who vanished has used up the grace period while away.
            await self.moderators_changed(m.away_since or self.now)
        if was_on_stage:
            await self.regroup(before)
