"""The hallway (S6): live rooms a person may join, ranked for them, and upcoming events.

Ranking is the pure function ``score`` over a room's ``Signals``; the weights are in
``WEIGHTS`` and explained in docs/hallway.md. Building one person's hallway reads every
live room's figures and that person's standing to them in a fixed number of queries
(storage/hallway.py), then decides in memory, so its cost does not grow with queries per
room.

Live updates: room changes that the hallway shows mark it dirty; every
``hallway_hint_seconds`` a dirty process publishes one ``{"type":"hallway.changed"}`` on
the shared channel ``hallway``, which every socket gateway forwards to all its sockets.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.bus import EventBus, channels
from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain.clubs import rules as club_rules
from townhall.domain.happenings import Happening
from townhall.domain.rooms import entry
from townhall.domain.views import RoomCard, StagePersonView, file_url
from townhall.storage import hallway as store
from townhall.storage import search as search_store
from townhall.storage.db import Database
from townhall.storage.models import User
from townhall.tasks import Periodic

if TYPE_CHECKING:
    from townhall.domain.events import EventView

logger = logging.getLogger(__name__)

ROOM_CHANGED = "room.changed"
AUDIENCE_CHANGED = "room.audience_changed"
"""Only a room's listeners changed: its count in the hallway is stale, which the next fetch
shows, but no socket is told (a room filling up would otherwise keep every hallway busy)."""

ROOMS_CACHE_SECONDS = 2
"""How long one process reuses the live rooms' figures for everyone's hallway."""
LIVELY_MINUTES = 10
"""Arrivals within this many minutes make a room lively."""
TOPICS_KEPT = 50
"""Words remembered per person; older ones are forgotten."""
TITLE_WORDS = 8
TOPIC_MATCHES = 3
"""At most this many of a title's words count as topics."""
SEARCH_CANDIDATES = 200
"""Live rooms a title search reads before the hallway's rules leave out those the person
may not see."""

STOPWORDS = frozenset(
    "the and for with you your are was were this that what how why who when where our out "
    "about from have has had not but all can will just into over under more less than then "
    "them they their there here let lets talk talks chat room live new".split()
)
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Weights:
    followed_on_stage: float = 10.0
    """Each person you follow on stage."""
    followed_listening: float = 5.0
    """Each person you follow in the audience."""
    club_member: float = 4.0
    """A room of a club you are a member of (any role but follower)."""
    club_follower: float = 2.0
    """A room of a club you follow."""
    size: float = 2.0
    """Times log10(1 + people in the room)."""
    liveliness: float = 2.0
    """Times log10(1 + people who came in during the last ``LIVELY_MINUTES``)."""
    topic: float = 1.5
    """Each title word (up to ``TOPIC_MATCHES``) from rooms you joined before."""


WEIGHTS = Weights()


@dataclass(frozen=True)
class Signals:
    """What the ranking knows about one room, for one person."""

    followed_on_stage: int = 0
    followed_listening: int = 0
    club: str | None = None
    """``member``, ``follower`` or None."""
    people: int = 0
    recent_joins: int = 0
    topic_matches: int = 0


def score(s: Signals, w: Weights = WEIGHTS) -> tuple[float, str]:
    """The room's score for the person, and the main reason for it (for the client to say
    "2 people you follow are speaking" and so on)."""
    parts = {
        "followed_on_stage": w.followed_on_stage * s.followed_on_stage,
        "followed_listening": w.followed_listening * s.followed_listening,
        "club": w.club_member
        if s.club == "member"
        else w.club_follower
        if s.club == "follower"
        else 0.0,
        "popular": w.size * math.log10(1 + s.people)
        + w.liveliness * math.log10(1 + s.recent_joins),
        "topic": w.topic * min(s.topic_matches, TOPIC_MATCHES),
    }
    reason = max(parts, key=lambda k: parts[k])
    return round(sum(parts.values()), 3), reason


def topic_words(title: str) -> list[str]:
    """The words of a title worth remembering: lower-case, three letters or more, no
    common words, at most ``TITLE_WORDS``."""
    text = unicodedata.normalize("NFKC", title).lower()
    words = [w[:40] for w in _WORD.findall(text) if len(w) >= 3 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:TITLE_WORDS]


@dataclass(frozen=True)
class Choice:
    """A room the person may join, and how it ranks."""

    room: store.LiveRoom
    score: float
    reason: str


@dataclass
class Ranked:
    rooms: list[Choice] = field(default_factory=list)
    hidden: int = 0


def rank(
    rooms: list[store.LiveRoom],
    standing: dict[str, dict[str, int]],
    user_id: int,
    club_roles: dict[int, str],
    topics: dict[str, int],
    weights: Weights = WEIGHTS,
) -> Ranked:
    """Which rooms the person may join (``entry.may_enter``, as joining decides), best
    first; rooms where someone they blocked is on stage are counted in ``hidden`` instead.
    Pure: everything it needs is given (``club_roles``: club id → their role)."""
    out = Ranked()
    for room in rooms:
        if entry.may_enter(room, entry.bulk_facts(room, user_id, standing, club_roles)) is not None:
            continue
        if room.id in standing.get("blocked_on_stage", {}):
            out.hidden += 1
            continue
        role = club_roles.get(room.club_id) if room.club_id is not None else None
        club = None if role is None else "follower" if role == club_rules.FOLLOWER else "member"
        signals = Signals(
            followed_on_stage=standing.get("followed_on_stage", {}).get(room.id, 0),
            followed_listening=standing.get("followed_listening", {}).get(room.id, 0),
            club=club,
            people=room.listeners + room.on_stage,
            recent_joins=room.recent_joins,
            topic_matches=sum(1 for w in topic_words(room.title) if w in topics),
        )
        value, reason = score(signals, weights)
        out.rooms.append(Choice(room, value, reason))
    out.rooms.sort(key=lambda c: (-c.score, -c.room.created_at.timestamp(), c.room.id))
    return out


@dataclass(frozen=True)
class HallwayRoom(RoomCard):
    reason: str
    """What counts most for the room's place: a key of ``score``'s parts."""
    score: float


@dataclass(frozen=True)
class HallwayView:
    events: list[EventView]
    """Upcoming for the person, soonest first."""
    rooms: list[HallwayRoom]
    """Live rooms they may join, best first."""
    hidden_rooms: int
    """Rooms not shown because someone they blocked is on stage."""


@dataclass(frozen=True)
class LiveRooms:
    at: datetime
    rooms: list[store.LiveRoom]
    stages: dict[str, list[store.OnStage]]


UpcomingEvents = Callable[[int, int], Awaitable[list["EventView"]]]
"""``(user_id, limit)`` → the events coming up for that person."""


class Hallway:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        bus: EventBus,
        upcoming: UpcomingEvents | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._upcoming = upcoming
        self._dirty = False
        self._rooms_cache: LiveRooms | None = None
        self._hints = Periodic("hallway-hints", settings.hallway_hint_seconds, self.hint)

    def start(self) -> None:
        self._hints.start()

    async def close(self) -> None:
        await self._hints.close()

    # --- building -------------------------------------------------------------------------

    async def build(self, user: User, limit: int, events: int = 10) -> HallwayView:
        async with self._db.transaction() as tx:
            live = await self._live(tx)
            facts = await store.standing(tx, user.id)
            club_roles = await store.club_roles(tx, user.id)
        ranked = rank(live.rooms, facts, user.id, club_roles, facts.get("topic", {}))
        upcoming = await self._upcoming(user.id, events) if self._upcoming else []
        return HallwayView(
            events=upcoming,
            rooms=[_card(c, live) for c in ranked.rooms[:limit]],
            hidden_rooms=ranked.hidden,
        )

    async def search(self, user: User, words: list[str], limit: int) -> list[HallwayRoom]:
        """Live rooms whose title has every word as a prefix, best match first, as the
        person's hallway would show them: rooms they may not enter, and rooms where someone
        they blocked is on stage, are not found (``rank`` decides, as for the hallway)."""
        async with self._db.transaction() as tx:
            ids = await search_store.live_rooms_matching(
                tx, self._db.dialect, words, SEARCH_CANDIDATES
            )
            if not ids:
                return []
            live = await self._live(tx)
            facts = await store.standing(tx, user.id)
            club_roles = await store.club_roles(tx, user.id)
        wanted = set(ids)
        rooms = [r for r in live.rooms if r.id in wanted]
        allowed = {
            c.room.id: c
            for c in rank(rooms, facts, user.id, club_roles, facts.get("topic", {})).rooms
        }
        return [_card(allowed[i], live) for i in ids if i in allowed][:limit]

    async def _live(self, tx: AsyncSession) -> LiveRooms:
        """Every live room's figures and stage: the same for every viewer, so shared by the
        hallways built in this process for ``ROOMS_CACHE_SECONDS``, and read again at once
        after a change made here. (Changes made by other processes show within that time.)"""
        now = self._clock.now()
        cached = self._rooms_cache
        if cached is not None and now - cached.at < timedelta(seconds=ROOMS_CACHE_SECONDS):
            return cached
        rooms = await store.live_rooms(tx, now - timedelta(minutes=LIVELY_MINUTES))
        stages = await store.live_stages(tx)
        self._rooms_cache = LiveRooms(now, rooms, stages)
        return self._rooms_cache

    # --- listening ------------------------------------------------------------------------

    async def on_happening(self, h: Happening) -> None:
        if h.kind == ROOM_CHANGED or h.kind == "room.started":
            self._dirty = True
            self._rooms_cache = None
        elif h.kind == AUDIENCE_CHANGED:
            self._rooms_cache = None

    async def hint(self) -> None:
        """Tell every socket the hallway changed, at most once per interval."""
        if not self._dirty:
            return
        self._dirty = False
        await self._bus.publish(channels.HALLWAY, channels.HALLWAY_HINT)


def _card(c: Choice, live: LiveRooms) -> HallwayRoom:
    return HallwayRoom(
        id=c.room.id,
        title=c.room.title,
        kind=c.room.kind,
        stage=tuple(
            StagePersonView(p.username, p.display_name, file_url(p.avatar), p.role)
            for p in live.stages.get(c.room.id, [])
        ),
        listeners=c.room.listeners,
        reason=c.reason,
        score=c.score,
    )
