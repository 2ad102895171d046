"""Live rooms (S4): create, join, read, run commands, track presence and end rooms.

Every change to a room happens in one transaction that first locks the room's row, checks
the rules against the state it then reads, writes the change and appends numbered events
to the room's log (see ``change.RoomChange``). The events are published on the bus only
after the commit. Two moderators acting at the same moment are therefore applied one after
the other, and each sees the state the other left.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.bus import EventBus, channels
from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain.clubs import rules as club_rules
from townhall.domain.hallway import AUDIENCE_CHANGED, ROOM_CHANGED, TOPICS_KEPT, topic_words
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.rooms import entry, rules
from townhall.domain.rooms.batches import Batches
from townhall.domain.rooms.change import RoomChange
from townhall.domain.rooms.commands import COMMANDS, checked_arguments
from townhall.domain.rooms.events import (
    Audience,
    Outbox,
    event_payload,
    visible_to,
)
from townhall.domain.rooms.shared import Shared, SharedSnapshots
from townhall.domain.rooms.views import (
    CatchUp,
    MeInRoom,
    MemberView,
    RoomEventView,
    RoomPreview,
    RoomSnapshot,
    member_data,
    member_view,
    row_view,
    stage_person,
)
from townhall.domain.standing import require_good_standing
from townhall.domain.views import RoomCard, StagePersonView, file_url
from townhall.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from townhall.media.policy import StageState
from townhall.ratelimit import RateLimiter
from townhall.storage import audit as audit_store
from townhall.storage import clubs as club_store
from townhall.storage import events as event_store
from townhall.storage import hallway as hallway_store
from townhall.storage import rooms as store
from townhall.storage import safety as safety_store
from townhall.storage import users as user_store
from townhall.storage.db import Database, before_commit
from townhall.storage.models import AuditEntry, Room, RoomEvent, RoomMember, User
from townhall.storage.rooms import MemberRow

logger = logging.getLogger(__name__)

__all__ = ["Rooms", "event_payload", "visible_to"]

JOIN_BATCH = 100
"""Listeners' joins into one room let in by one transaction at most (``_join_listeners``)."""


def room_link(public_url: str, room_id: str) -> str:
    return f"{public_url}/r/{room_id}"


def started_happening(room: Room, user: User, public_url: str) -> Happening | None:
    """The "someone you follow started a room" happening, for rooms their followers may
    join: open rooms that are not for a club's members only (the club's followers hear of
    them too)."""
    if room.kind != "open" or room.members_only:
        return None
    return Happening(
        "room.started",
        Recipients(followers_of=(user.id,), club=room.club_id),
        actor_id=user.id,
        data={"room": room.id, "title": room.title, "link": room_link(public_url, room.id)},
        key=f"room.started:{room.id}",
    )


class Rooms:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        bus: EventBus,
        limiter: RateLimiter,
        happenings: Happenings,
        shared: SharedSnapshots,
    ) -> None:
        self._db = db
        self._shared = shared
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._limiter = limiter
        self._happenings = happenings
        self._joins: Batches[User, RoomSnapshot | None] = Batches(
            self._join_listeners, JOIN_BATCH, settings.room_join_linger_seconds
        )

    # --- plumbing ---------------------------------------------------------------------------

    async def _publish(self, outbox: Outbox) -> None:
        for channel, payload in outbox.messages:
            try:
                await self._bus.publish(channel, payload)
            except Exception:
                # The event is in the room's log; clients catch up when they resume.
                logger.exception("publishing on %s failed", channel)
        # Only make the hallway's cache stale: hints in this process, not recorded.
        if outbox.hallway:
            await self._happenings.hint(Happening(ROOM_CHANGED, Recipients()))
        elif outbox.audience:
            await self._happenings.hint(Happening(AUDIENCE_CHANGED, Recipients()))

    def _change(
        self, tx: AsyncSession, room: Room, now: datetime, outbox: Outbox | None = None
    ) -> RoomChange:
        outbox = outbox or Outbox()

        async def record() -> None:
            # The change's happenings go into the (durable) outbox with the change itself.
            happenings, outbox.happenings = outbox.happenings, []
            await self._happenings.record(tx, *happenings)

        before_commit(tx, record)
        return RoomChange(tx, room, now, self._settings, outbox)

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

    # --- creating and reading ---------------------------------------------------------------

    async def create(
        self,
        user: User,
        title: str,
        kind: str,
        hand_raise: str,
        club_id: int | None = None,
        members_only: bool = False,
        for_event: bool = False,
        ticketed: bool = False,
    ) -> RoomSnapshot:
        """Open a room; its creator is its first moderator, on stage, muted.

        A club room needs a club role that may start rooms, unless a host starts the room of
        a scheduled event (``for_event``): scheduling it was the club's permission."""
        if user.status != "member":
            raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
        require_good_standing(user, self._clock.now())
        title = rules.check_title(title)
        rules.check_kind(kind)
        rules.check_hand_raise(hand_raise)
        if members_only and club_id is None:
            raise InvalidInput("members_only_needs_club", "Only a club room can be members-only.")
        await self._limiter.hit(
            f"room-create:{user.id}", self._settings.limit_room_creations_per_user
        )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if club_id is not None:
                if await club_store.club(tx, club_id) is None:
                    raise NotFound("club_not_found", "There is no such club.")
                if not for_event:
                    club_rules.require(await club_store.role_of(tx, club_id, user.id), "start_room")
            room = await store.add_room(
                tx,
                Room(
                    id=secrets.token_urlsafe(9),
                    title=title,
                    kind=kind,
                    hand_raise=hand_raise,
                    created_by_id=user.id,
                    club_id=club_id,
                    members_only=members_only,
                    ticketed=ticketed,
                    status="live",
                    seq=0,
                    created_at=now,
                ),
            )
            m = await store.add_member(tx, room.id, user.id, "moderator", now)
            change = self._change(tx, room, now)
            await change.emit("room.created", {"title": title, "kind": kind})
            await change.emit("member.joined", member_data(m, user))
            snapshot = await self._snapshot(tx, room, user)
            # An event's room is announced as the event starting instead.
            started = started_happening(room, user, self._settings.resolved_public_url)
            if started is not None and not for_event:
                change.outbox.happenings.append(started)
        await self._publish(change.outbox)
        logger.info("room %s created by user %s", room.id, user.id)
        return snapshot

    async def snapshot(self, user: User, room_id: str) -> RoomSnapshot:
        """The whole state of a room as ``user`` may see it, with the last event number.

        Someone outside a room sees it only if they may join it, live or ended."""
        async with self._db.transaction() as tx:
            room = await self._readable(tx, room_id, user)
            return await self._snapshot(tx, room, user)

    async def _readable(self, tx: AsyncSession, room_id: str, user: User) -> Room:
        """The room, if ``user`` may read it: by the rule for entering it, after its end as
        while it is live (nobody is inside an ended room, so what remains decides: its kind,
        club, creator, invitations and bans). Someone it would refuse learns of an ended
        room only that it ended, as its share link says (docs/rooms.md, *After the end*)."""
        room = await store.room(tx, room_id)
        if room is None:
            raise NotFound("room_not_found", "There is no such room.")
        refusal = await self._may_enter(tx, room, user)
        if refusal is not None:
            if room.status != "live":
                raise Gone("room_ended", "This room has ended.")
            raise refusal
        return room

    async def events_for(self, user: User, room_id: str, seq: int) -> CatchUp:
        """The events after ``seq`` that ``user`` may see (by their role in the room or by
        name), or a snapshot when too many passed to replay."""
        backlog = self._settings.room_event_backlog
        async with self._db.transaction() as tx:
            room = await self._readable(tx, room_id, user)
            if seq < 0 or seq > room.seq:
                raise InvalidInput("invalid_seq", "That event number is not of this room.")
            if room.seq - seq > backlog or room.log_erased_at is not None:
                # The log is gone a while after the end: the snapshot says it ended.
                return CatchUp(snapshot=await self._snapshot(tx, room, user))
            me = await store.member(tx, room.id, user.id)
            role = me.role if me is not None else None
            events = await store.events_after(tx, room_id, seq, backlog)
        return CatchUp(
            events=tuple(
                RoomEventView(e.seq, e.name, e.data, e.created_at)
                for e in events
                if visible_to(Audience.of(e.audience), role, user.username)
            )
        )

    async def _snapshot(
        self, tx: AsyncSession, room: Room, viewer: User, shared: Shared | None = None
    ) -> RoomSnapshot:
        """Bounded by the stage size and ``room_snapshot_audience``, not by the room's size:
        a join in a room of thousands reads the same few hundred rows, or none of them
        while the shared part is kept (``shared.py``)."""
        shared = shared or await self._shared_part(tx, room)
        me = await store.member(tx, room.id, viewer.id)
        mine = MemberRow.of(me, viewer) if me is not None else None
        followed = False
        if mine is not None and mine.role == "listener":
            followed = (
                mine.user_id in shared.followed
                if mine.user_id in shared.audience_ids
                else await store.followed_by_any(tx, viewer.id, list(shared.stage_ids))
            )
        # The viewer's shield marks: one grouped query for the whole room (docs/safety.md).
        shield = await safety_store.shielded(
            tx, viewer.id, self._settings.shield_blocks, room_id=room.id
        )
        moderator = me is not None and me.role == "moderator"
        return self._snapshot_of(
            room,
            shared,
            mine,
            followed,
            listeners=await store.count_listeners(tx, room.id),
            shield=shield,
            hands=await store.hand_queue(tx, room.id) if moderator else None,
            me=None
            if me is None
            else MeInRoom(
                role=me.role,
                muted=me.muted,
                hand_raised=me.hand_raised_at is not None,
                invited_to_speak=me.invited_to_speak_at is not None,
            ),
        )

    async def _shared_part(self, tx: AsyncSession, room: Room) -> Shared:
        """The room's stage and first listeners, kept or read (three queries)."""
        kept = self._shared.get(room.id, room.seq)
        if kept is not None:
            return kept
        token = self._shared.token(room.id)
        stage = await store.stage_rows(tx, room.id)
        audience = await store.first_listeners(tx, room.id, self._settings.room_snapshot_audience)
        followed = await store.listeners_followed_by_stage(
            tx, room.id, among=[r.user_id for r in audience]
        )
        shared = Shared.of(room.seq, stage, audience, set(followed))
        self._shared.keep(room.id, token, shared)
        return shared

    def _snapshot_of(
        self,
        room: Room,
        shared: Shared,
        mine: MemberRow | None,
        followed: bool,
        *,
        listeners: int,
        shield: set[int],
        hands: list[str] | None,
        me: MeInRoom | None,
    ) -> RoomSnapshot:
        """The snapshot from its shared part, the viewer's own row as this transaction
        left it (in its place on the first page, or after it, with its ``followed`` group)
        and shield marks."""
        stage, audience = shared.stage, shared.audience
        if shield:
            stage = _marked(stage, shared.stage_ids, shield)
            audience = _marked(audience, shared.audience_ids, shield)
        if mine is not None and mine.role == "listener":
            group = "followed_by_speakers" if followed else "others"
            view = row_view(mine, group, mine.user_id in shield)
            if mine.user_id in shared.audience_ids:
                at = shared.audience_ids.index(mine.user_id)
                audience = (*audience[:at], view, *audience[at + 1 :])
            else:
                audience = (*audience, view)
        return RoomSnapshot(
            id=room.id,
            title=room.title,
            kind=room.kind,
            hand_raise=room.hand_raise,
            club_id=room.club_id,
            members_only=room.members_only,
            status=room.status,
            seq=room.seq,
            created_at=room.created_at,
            stage=stage,
            audience=audience,
            listeners=listeners,
            hands=tuple(hands) if hands is not None else None,
            me=me,
        )

    async def audience(
        self, user: User, room_id: str, after: tuple[datetime, int] | None, limit: int
    ) -> tuple[list[MemberView], tuple[datetime, int] | None]:
        """The audience page by page, in the order people came in (the snapshot holds only
        its first ``room_snapshot_audience`` listeners)."""
        async with self._db.transaction() as tx:
            room = await self._readable(tx, room_id, user)
            rows, next_key = await store.audience_page(tx, room.id, after, limit)
            followed = set(await store.listeners_followed_by_stage(tx, room.id))
            shield = await safety_store.shielded(
                tx, user.id, self._settings.shield_blocks, user_ids=[u.id for _, u in rows]
            )
        page = [
            member_view(
                m, u, "followed_by_speakers" if u.id in followed else "others", u.id in shield
            )
            for m, u in rows
        ]
        return page, next_key

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

    async def preview(self, room_id: str) -> RoomPreview:
        """What a share link shows to anyone: title, who is on stage, how many listen."""
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            rows = await store.stage_members(tx, room.id)
            counts = await store.count_roles(tx, room.id)
        # After the end, the title stays on the link only of rooms anyone could enter.
        withheld = room.status != "live" and (
            room.kind != "open" or room.members_only or room.ticketed
        )
        return RoomPreview(
            id=room.id,
            title="" if withheld else room.title,
            status=room.status,
            stage=tuple(stage_person(m, u) for m, u in rows),
            listeners=counts["listener"],
        )

    async def live(self, user: User, limit: int = 50) -> list[RoomCard]:
        """Live rooms ``user`` may join or is in, newest first (``GET /api/rooms``; the
        hallway ranks them instead). The same rule as joining, on facts read for every live
        room at once: a fixed number of queries, whatever the number of rooms."""
        async with self._db.transaction() as tx:
            rooms = await hallway_store.live_rooms(tx, self._clock.now())
            standing = await hallway_store.standing(tx, user.id)
            club_roles = await hallway_store.club_roles(tx, user.id)
            rooms.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            shown = [
                r
                for r in rooms
                if entry.may_enter(r, entry.bulk_facts(r, user.id, standing, club_roles)) is None
            ][:limit]
            stages = await hallway_store.live_stages(tx, [r.id for r in shown])
        return [
            RoomCard(
                id=r.id,
                title=r.title,
                kind=r.kind,
                stage=tuple(
                    StagePersonView(p.username, p.display_name, file_url(p.avatar), p.role)
                    for p in stages.get(r.id, [])
                ),
                listeners=r.listeners,
            )
            for r in shown
        ]

    # --- joining and leaving -----------------------------------------------------------------

    async def _may_enter(self, tx: AsyncSession, room: Room, user: User) -> entry.Refusal | None:
        """``entry.may_enter`` on the facts read for this one room."""
        held, club_role = await store.entry_facts(tx, room, user.id)
        return entry.may_enter(room, entry.Facts.of(held, club_role, room.created_by_id == user.id))

    async def join(self, user: User, room_id: str) -> RoomSnapshot:
        """Enter a room, always into the audience, muted. Joining again keeps your role.

        A listener's join does not take the room's row lock: it changes only the audience,
        which is told through digests. Only a join that changes the stage (a host of the
        room's event, someone on stage coming back) goes through the locked path."""
        if user.status != "member":
            raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
        snapshot = await self._join_audience(user, room_id)
        if snapshot is None:
            snapshot = await self._join_stage(user, room_id)
        return snapshot

    async def _join_audience(self, user: User, room_id: str) -> RoomSnapshot | None:
        """Join as a listener, or come back as one; None when the stage would change.

        The listeners' joins waiting in this process for one room go in together, in one
        transaction (``batches.py``)."""
        return await self._joins.submit(room_id, user)

    async def _join_listeners(
        self, room_id: str, users: list[User]
    ) -> list[RoomSnapshot | Exception | None]:
        """Let a batch of people into a room's audience; for each, in order: their snapshot,
        None when their join would change the stage (``_join_stage`` then takes it), or why
        they may not enter. An error of the room (gone, ended) is everyone's, raised.

        The batch costs one read of the room, its shared snapshot part (usually kept,
        ``shared.py``), the audience lock (on PostgreSQL; SQLite runs one writer at a time)
        and the commit, and one count of its listeners; then per person one ``UNION ALL`` of
        everything their join decides on (``store.join_facts``); the entrants go in with one
        insert and their topic words with two statements."""
        now = self._clock.now()
        outbox = Outbox()
        outcomes: dict[int, RoomSnapshot | Exception | None] = {}
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            if room.status != "live":
                raise Gone("room_ended", "This room has ended.")
            change = self._change(tx, room, now, outbox)
            shared = await self._shared_part(tx, room)
            # Counting and entering happen one batch at a time, until the commit.
            await store.lock_audience(tx, room.id)
            listeners = await store.count_listeners(tx, room.id)
            entering: list[tuple[User, store.JoinFacts]] = []
            seen: set[int] = set()
            for user in users:
                if user.id in seen:
                    continue  # the same person twice: both get the first one's answer
                seen.add(user.id)
                facts = await store.join_facts(tx, room, user.id, self._settings.shield_blocks)
                if "live" not in facts.held:
                    raise Gone("room_ended", "This room has ended.")
                if "member" in facts.held:
                    outcomes[user.id] = await self._come_back(tx, room, user, shared, change, now)
                    continue
                creator = room.created_by_id == user.id
                refusal = entry.may_enter(
                    room, entry.Facts.of(facts.held, facts.club_role, creator)
                )
                if refusal is not None:
                    outcomes[user.id] = refusal
                elif "hosts" in facts.held:
                    outcomes[user.id] = None
                elif listeners + len(entering) >= self._settings.room_listener_capacity:
                    outcomes[user.id] = Conflict("room_full", "This room is full.")
                else:
                    entering.append((user, facts))
            if entering:
                await store.add_listeners(tx, room.id, [u.id for u, _ in entering], now)
                await hallway_store.remember_topics(
                    tx, [u.id for u, _ in entering], topic_words(room.title), now, TOPICS_KEPT
                )
            for user, facts in entering:
                change.listener_changed(user)
                outcomes[user.id] = self._snapshot_of(
                    room,
                    shared,
                    MemberRow(
                        user.id,
                        user.username,
                        user.display_name,
                        user.avatar,
                        user.verified,
                        "listener",
                        True,
                        False,
                    ),
                    "followed_by_stage" in facts.held,
                    listeners=listeners + len(entering),
                    shield=facts.shielded,
                    hands=None,
                    me=MeInRoom(
                        role="listener", muted=True, hand_raised=False, invited_to_speak=False
                    ),
                )
        await self._publish(outbox)
        return [outcomes[u.id] for u in users]

    async def _come_back(
        self,
        tx: AsyncSession,
        room: Room,
        user: User,
        shared: Shared,
        change: RoomChange,
        now: datetime,
    ) -> RoomSnapshot | None:
        """Someone already in the room joins again: a listener keeps their place (and is
        back if they were away); None for someone on stage coming back (the stage changes)."""
        m = await store.member(tx, room.id, user.id)
        if m is None:
            raise RuntimeError("a member of the room without a member row")
        if m.role != "listener" and m.away_since is not None:
            return None
        m.last_seen_at = now
        if m.away_since is not None:
            m.away_since = None
            change.listener_changed(user)
        return await self._snapshot(tx, room, user, shared)

    async def _remember_topics(
        self, tx: AsyncSession, user: User, room: Room, now: datetime
    ) -> None:
        """The words of the room's title, for the hallway's topics (docs/hallway.md): in the
        join's transaction, kept or lost with it."""
        words = topic_words(room.title)
        if words:
            await hallway_store.remember_topics(tx, [user.id], words, now, TOPICS_KEPT)

    async def _join_stage(self, user: User, room_id: str) -> RoomSnapshot:
        """A join that changes the stage, under the room's row lock, as every stage change."""
        now = self._clock.now()
        require_good_standing(user, now)
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            change = self._change(tx, room, now)
            m = await store.member(tx, room.id, user.id)
            if m is not None:
                m.last_seen_at = now
                if m.away_since is not None:
                    m.away_since = None
                    if m.role == "listener":
                        change.listener_changed(user)
                    else:
                        await change.emit("member.back", {"username": user.username})
            else:
                refusal = await self._may_enter(tx, room, user)
                if refusal is not None:
                    raise refusal
                role = "listener"
                if await event_store.hosts_room(tx, room.id, user.id):
                    # The hosts of a scheduled event run its room together.
                    try:
                        await change.check_can_go_on_stage(user)
                        role = "moderator"
                    except (Conflict, Forbidden):
                        pass
                if role == "listener":
                    await store.lock_audience(tx, room.id)
                    if await store.count_listeners(tx, room.id) >= (
                        self._settings.room_listener_capacity
                    ):
                        raise Conflict("room_full", "This room is full.")
                m = await store.add_member(tx, room.id, user.id, role, now)
                if role == "moderator":
                    await change.moderators_changed(now)
                    await change.emit("member.joined", member_data(m, user))
                else:
                    change.listener_changed(user)
                await self._remember_topics(tx, user, room, now)
            snapshot = await self._snapshot(tx, room, user)
        await self._publish(change.outbox)
        return snapshot

    async def leave(self, user: User, room_id: str) -> None:
        """Leave quietly: nobody is told but the room's own member list. A listener's
        leave takes no room row lock (the audience lock, as their join did)."""
        if not await self._listener_leaves(room_id, user, self._clock.now(), "left"):
            await self.command(user, room_id, "leave")

    async def _listener_leaves(
        self, room_id: str, user: User, now: datetime, reason: str, *, quiet: bool = False
    ) -> bool:
        """Take a listener out without the room's row lock; False when they are on stage
        (the locked path then decides). An audience left empty ends the room. The errors
        of ``leave`` unless ``quiet`` (the sweeper: then True, nothing left to do)."""
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None or room.status != "live":
                if quiet:
                    return True
                if room is None:
                    raise NotFound("room_not_found", "There is no such room.")
                raise Gone("room_ended", "This room has ended.")
            await store.lock_audience(tx, room.id)
            if not await store.remove_listener(tx, room.id, user.id):
                if await store.member(tx, room.id, user.id) is not None:
                    return False
                if quiet:
                    return True
                raise Forbidden("not_in_room", "Join the room first.")
            self._change(tx, room, now, outbox).listener_went(user, reason)
            empty = not await store.anyone_in(tx, room.id)
        await self._publish(outbox)
        if empty:
            await self._end_if_empty(room_id, now)
        return True

    async def _end_if_empty(self, room_id: str, now: datetime) -> None:
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.lock_room(tx, room_id)
            if room is not None and room.status == "live":
                await store.lock_audience(tx, room.id)
                if not await store.anyone_in(tx, room.id):
                    await self._change(tx, room, now, outbox).end("empty")
        await self._publish(outbox)

    async def leave_all(self, user: User) -> None:
        """Leave every room ``user`` is in, each as ``leave`` does (before their account
        goes: a moderator's room starts its grace period, an empty room ends)."""
        async with self._db.transaction() as tx:
            room_ids = await store.rooms_of(tx, user.id)
        for room_id in room_ids:
            try:
                await self.leave(user, room_id)
            except (Gone, Forbidden):
                pass  # the room ended, or they left it, meanwhile

    # --- commands ----------------------------------------------------------------------------

    async def command(
        self,
        user: User,
        room_id: str,
        action: str,
        arguments: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        """Run one room command as ``user`` with the ``arguments`` a client sent, checked
        against the command's declaration; see ``rules.PERMISSIONS``."""
        args = checked_arguments(action, arguments or {})
        if action == "ping":
            await self._limiter.hit(f"ping:{user.id}", self._settings.limit_pings_per_user)
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            me = await self._membership(tx, room, user)
            rules.check_permission(action, me.role)
            change = self._change(tx, room, self._clock.now())
            await COMMANDS[action].run(change, me, user, **args)
        await self._publish(change.outbox)
        return {"ok": True}

    # --- staff (docs/safety.md) ---------------------------------------------------------------

    async def end_by_staff(self, room_id: str, audit: AuditEntry) -> None:
        """End any live room, as a moderator ending it would; ``audit`` is written with it."""
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            change = self._change(tx, room, self._clock.now())
            await change.end("ended_by_staff")
            await audit_store.append(tx, [audit])
        await self._publish(change.outbox)

    async def remove_by_staff(self, room_id: str, user: User, audit: AuditEntry) -> None:
        """Take someone out of a live room for good, as a moderator's ``remove`` does
        (moderators included); ``audit`` is written with it."""
        async with self._db.transaction() as tx:
            room = await self._locked_live(tx, room_id)
            m = await store.member(tx, room.id, user.id)
            if m is None:
                raise Conflict("person_not_in_room", f"@{user.username} is not in this room.")
            change = self._change(tx, room, self._clock.now())
            await store.ban(tx, room.id, user.id, change.now)
            await change.remove_member(m, user, "removed")
            change.outbox.add(
                channels.user(user.id), channels.notice("room.removed", {"room": room.id})
            )
            await audit_store.append(tx, [audit])
        await self._publish(change.outbox)

    # --- for other areas ---------------------------------------------------------------------

    async def announce(
        self, tx: AsyncSession, room_id: str, name: str, data: dict[str, Any]
    ) -> Outbox | None:
        """Append ``name`` to a live room's log in the caller's transaction (a tip, written
        with its money); None when the room is not live. Give the outbox to ``publish``
        once the transaction has committed."""
        room = await store.lock_room(tx, room_id)
        if room is None or room.status != "live":
            return None
        change = self._change(tx, room, self._clock.now())
        await change.emit(name, data)
        return change.outbox

    async def publish(self, outbox: Outbox) -> None:
        """Publish what ``announce`` wrote, after its transaction committed."""
        await self._publish(outbox)

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
                    change = self._change(tx, room, now, outbox)
                    await change.end("no_moderator")
            await self._publish(outbox)

    async def _presence_change(self, room_id: str, user_id: int, now: datetime, what: str) -> None:
        if await self._listener_presence(room_id, user_id, now, what):
            return
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.lock_room(tx, room_id)
            m = await store.member(tx, room_id, user_id)
            u = await user_store.by_id(tx, user_id)
            if room is None or room.status != "live" or m is None or u is None:
                return
            change = self._change(tx, room, now, outbox)
            listener = m.role == "listener"
            if what == "away" and m.away_since is None:
                m.away_since = now
                if listener:
                    change.listener_changed(u)
                else:
                    await change.emit("member.away", {"username": u.username})
            elif what == "back" and m.away_since is not None:
                m.away_since = None
                if listener:
                    change.listener_changed(u)
                else:
                    await change.emit("member.back", {"username": u.username})
            elif what == "gone":
                await change.remove_member(m, u, "disconnected")
        await self._publish(outbox)

    async def _listener_presence(
        self, room_id: str, user_id: int, now: datetime, what: str
    ) -> bool:
        """A listener going away, coming back or gone, without the room's row lock: the
        stage does not change. False when they are not a listener (the locked path then
        decides, as for everyone on stage)."""
        outbox = Outbox()
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            m = await store.member(tx, room_id, user_id)
            u = await user_store.by_id(tx, user_id)
            if room is None or room.status != "live" or m is None or u is None:
                return True  # nothing left to change
            if m.role != "listener":
                return False
            if what == "gone":
                leaving = u
            else:
                since = now if what == "away" else None
                if (since is None) == (m.away_since is None):
                    return True  # already so
                if not await store.set_listener_away(tx, room_id, user_id, since):
                    return False
                self._change(tx, room, now, outbox).listener_changed(u)
                leaving = None
        if leaving is not None:
            return await self._listener_leaves(room_id, leaving, now, "disconnected", quiet=True)
        await self._publish(outbox)
        return True

    # --- for the media plane ---------------------------------------------------------------

    async def stage_state(self, room_id: str) -> StageState:
        """Who is on stage and muted, as of the room's last event number."""
        async with self._db.transaction() as tx:
            room = await store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            stage = await store.stage_members(tx, room.id)
            return StageState(
                seq=room.seq,
                live=room.status == "live",
                stage={u.username: m.muted for m, u in stage},
            )

    # --- for the WebSocket gateway ---------------------------------------------------------

    async def listeners(self, room_id: str) -> int:
        """How many listen in the room now."""
        async with self._db.transaction() as tx:
            return await store.count_listeners(tx, room_id)

    async def role_of(self, user: User, room_id: str) -> str | None:
        """``user``'s current role in the room, or None when they are not in it."""
        async with self._db.transaction() as tx:
            if await store.room(tx, room_id) is None:
                raise NotFound("room_not_found", "There is no such room.")
            m = await store.member(tx, room_id, user.id)
            return m.role if m is not None else None


def _marked(
    views: tuple[MemberView, ...], ids: tuple[int, ...], shield: set[int]
) -> tuple[MemberView, ...]:
    """``views`` with the viewer's shield marks on the people in ``shield``."""
    return tuple(
        replace(v, shield=True) if uid in shield else v for v, uid in zip(views, ids, strict=True)
    )
