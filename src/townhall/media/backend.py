"""The media seam: everything the domain and the composition root ask of a media plane.

``MediaBackend`` is all they see. The embedded aiortc server (``media.server.MediaServer``)
is one implementation; media worker processes and Janus are meant to be others. So the
protocol speaks in plain data only (ids, SDP, dicts of strings): nothing in it needs the
caller and the media plane to share a process. The one exception is ``Seed``, the room's
stage state read on demand, which a backend that lives elsewhere calls on this side and
sends over.

Errors are the project's own (``townhall.errors``): ``InvalidInput`` for an unreadable offer
or candidate, ``NotFound`` for an unknown connection, ``Gone`` for an ended room,
``Unavailable`` when audio is full or no port is free, ``Conflict`` past the per-person cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from townhall.media.policy import StageState

MAX_SDP_CHARS = 20_000
"""The longest offer a backend reads."""

Seed = Callable[[], Awaitable[StageState]]
"""Reads who is on stage and muted in a room, for a media plane that starts following it."""


@dataclass(frozen=True)
class Connection:
    """One person's audio connection, as the control plane sees it."""

    room_id: str
    user_id: int
    session_id: str
    """The connection's id, as the answer to its offer named it."""
    auth_session: int | None
    """The sign-in session it was opened with: revoking that session ends it."""


@dataclass(frozen=True)
class Which:
    """Which connections to end: those of ``users`` (None: anyone's) that were opened with
    one of ``auth_sessions`` (None: any). Plain data, so it can travel to another process."""

    users: frozenset[int] | None = None
    auth_sessions: frozenset[int] | None = None

    def picks(self, user_id: int, auth_session: int | None) -> bool:
        if self.users is not None and user_id not in self.users:
            return False
        return self.auth_sessions is None or auth_session in self.auth_sessions


class MediaBackend(Protocol):
    """A media plane: answers offers, moves the audio, obeys the room's events."""

    async def start(self) -> None:
        """Begin serving (and check what it runs on: a backend that cannot work says so
        here, loudly, rather than at the first offer)."""

    async def close(self) -> None:
        """End every connection and stop. Idempotent."""

    async def connect(
        self,
        room_id: str,
        user_id: int,
        username: str,
        offer: str,
        seed: Seed,
        auth_session: int | None = None,
    ) -> dict[str, str]:
        """Answer ``offer`` (at most ``MAX_SDP_CHARS``): ``{"type": "answer", "sdp",
        "session"}``. The person's earlier connections in the room are replaced. The caller
        has already decided that the person may connect; who is heard the backend learns
        from the room's events on the bus (``seed`` first)."""

    async def add_candidate(
        self,
        room_id: str,
        user_id: int,
        session_id: str,
        candidate: str,
        mid: str | None,
        index: int | None,
    ) -> None:
        """A trickled ICE candidate of the person's connection; ``""`` ends them."""

    async def hang_up(self, room_id: str, user_id: int, session_id: str) -> None:
        """Close the person's connection."""

    def present(self) -> dict[str, set[int]]:
        """Who has a working audio connection, per room id: a sign of life like a socket."""

    def connections(self) -> list[Connection]:
        """Every audio connection this backend holds, in every room."""

    def end(self, which: Which, why: str) -> None:
        """End the connections ``which`` picks: they stop being heard at once (this never
        awaits; closing follows)."""

    def ice_servers(self, turn_for: str | None) -> dict[str, Any]:
        """``{"ice_servers": [{"urls", "username"?, "credential"?}], "expires_at"?}`` for
        connecting to this media plane. ``turn_for`` None: only servers without a
        credential (public knowledge); otherwise every server, with TURN credentials minted
        for that opaque person id (never a name), and when they expire."""

    async def sweep_incidents(self) -> None:
        """Destroy sealed incident audio past its retention."""
