"""What every viewer's snapshot of a room shares (its stage and its first listeners), kept
per room in this process so that a room filling up does not read them again per join.

A snapshot holds the stage and the first ``room_snapshot_audience`` listeners in the order
they came in, then the viewer's own place, count and shield marks (read per viewer). The
shared part is the same for everyone and, in a room of thousands, changes rarely: an
arrival goes after the first listeners, and only the going, coming back or going away of
one of them changes that page. So it is kept:

- only for rooms this process gathers the roster of (``AudienceDigests.watch``: a socket
  here follows the room), because the roster is what tells it that the page changed. The
  roster reaches a process on the same ordered bus connection as the digests it relays: a
  change it has not heard of yet when a snapshot is served comes in a digest that reaches
  the snapshot's socket after it;
- only while the room's event number is the one it was read at (every stage change,
  setting and the end are numbered events);
- only when the page is full: in a smaller room every arrival changes it;
- until a listener on it changes, or ``SHARED_SECONDS`` have passed (what no roster message
  says: a new display name or avatar, a verified badge, a follow that moves someone from
  one audience group to the other).

Never awaits: the rooms service reads and offers, the roster's reader (in the bus reader)
tells what changed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from townhall.domain.rooms.views import MemberView, row_view
from townhall.storage.rooms import MemberRow

SHARED_SECONDS = 2.0
"""How long a room's shared part may be served at most (see the module)."""
RECENT = 256
"""Roster changes remembered per room, to check a page read while they arrived."""

FOLLOWED = "followed_by_speakers"
OTHERS = "others"


@dataclass(frozen=True)
class Shared:
    """A room's stage and first listeners at event number ``seq``, without shield marks."""

    seq: int
    stage: tuple[MemberView, ...]
    audience: tuple[MemberView, ...]
    stage_ids: tuple[int, ...]
    audience_ids: tuple[int, ...]
    followed: frozenset[int]
    """The listeners on the page followed by someone on stage."""

    @classmethod
    def of(
        cls, seq: int, stage: Iterable[MemberRow], audience: Iterable[MemberRow], followed: set[int]
    ) -> Shared:
        stage, audience = tuple(stage), tuple(audience)
        return cls(
            seq=seq,
            stage=tuple(row_view(r) for r in stage),
            audience=tuple(
                row_view(r, FOLLOWED if r.user_id in followed else OTHERS) for r in audience
            ),
            stage_ids=tuple(r.user_id for r in stage),
            audience_ids=tuple(r.user_id for r in audience),
            followed=frozenset(followed),
        )

    def holds(self, user_id: int) -> bool:
        return user_id in self.audience_ids or user_id in self.stage_ids


@dataclass
class _Room:
    generation: int = 0
    """Roster changes heard since the room was watched."""
    recent: deque[tuple[int, int | None]] = field(default_factory=lambda: deque(maxlen=RECENT))
    """(generation, user id) of the last changes; None: something was missed."""
    shared: Shared | None = None
    read_at: float = 0.0


class SharedSnapshots:
    def __init__(self, page: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._page = page
        self._clock = clock
        self._rooms: dict[str, _Room] = {}

    # --- the roster's side ----------------------------------------------------------------

    def watch(self, room_id: str) -> None:
        """This process hears the room's roster from now on."""
        self._rooms.setdefault(room_id, _Room())

    def unwatch(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)

    def changed(self, room_id: str, user_id: int | None) -> None:
        """A listener came in, went away, came back or went (None: changes were missed)."""
        room = self._rooms.get(room_id)
        if room is None:
            return
        room.generation += 1
        room.recent.append((room.generation, user_id))
        if room.shared is not None and (user_id is None or room.shared.holds(user_id)):
            room.shared = None

    # --- the rooms service's side ---------------------------------------------------------

    def get(self, room_id: str, seq: int) -> Shared | None:
        room = self._rooms.get(room_id)
        if room is None or room.shared is None or room.shared.seq != seq:
            return None
        if self._clock() - room.read_at > SHARED_SECONDS:
            room.shared = None
            return None
        return room.shared

    def token(self, room_id: str) -> Token | None:
        """Taken before reading the shared part: None when it would not be kept."""
        room = self._rooms.get(room_id)
        return None if room is None else Token(room, room.generation)

    def keep(self, room_id: str, token: Token | None, shared: Shared) -> None:
        """Keep what was read since ``token``, unless a change heard meanwhile touched it."""
        room = self._rooms.get(room_id)
        if token is None or room is not token.room or len(shared.audience) < self._page:
            return
        if room.generation != token.generation:
            since = [user for gen, user in room.recent if gen > token.generation]
            if len(since) < room.generation - token.generation:
                return  # more changes than remembered
            if any(user is None or shared.holds(user) for user in since):
                return
        room.shared, room.read_at = shared, self._clock()


@dataclass(frozen=True)
class Token:
    """Where a room's roster stood when its shared part began to be read."""

    room: _Room
    generation: int
