"""A socket follows its session: this process's sockets and audio connections by person,
closed (4401) or carried on as the person now is, when the standing signal or the sweep
says so (``domain.standing``; docs/security.md, item 2).

Every command asks ``check`` first. It costs no query: the person a socket acts as is
replaced (or the socket closed) when their standing changes, and a command that arrives
while the person is being looked up again waits for that look-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from townhall.bus import EventBus, channels
from townhall.domain.standing import Reason, Standing, lowered, may_use_audio
from townhall.errors import Unauthenticated
from townhall.media.backend import MediaBackend, Which
from townhall.storage.models import User

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
"""Not signed in: the session is unknown, revoked or expired, the account is gone, or it
may do less than when the socket opened (docs/protocol.md)."""


class Socket(Protocol):
    user: User
    user_id: int
    session_id: int
    close_code: int | None

    def close(self, code: int) -> None: ...


class SocketStandings:
    def __init__(self, bus: EventBus, standing: Standing, media: MediaBackend) -> None:
        self._bus = bus
        self._standing = standing
        self._media = media
        self._people: dict[int, set[Socket]] = {}
        self._looking_up: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self._bus.subscribe(channels.STANDING, self._on_change)

    async def close(self) -> None:
        await self._bus.unsubscribe(channels.STANDING, self._on_change)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add(self, socket: Socket) -> None:
        self._people.setdefault(socket.user_id, set()).add(socket)

    def discard(self, socket: Socket) -> None:
        sockets = self._people.get(socket.user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._people[socket.user_id]

    def count(self, user_id: int) -> int:
        return len(self._people.get(user_id, ()))

    async def check(self, socket: Socket) -> None:
        """Before a command: wait for a look-up of the person under way, then refuse if the
        socket is closing (its reply would not be sent anyway)."""
        looking = self._looking_up.get(socket.user_id)
        if looking is not None:
            await looking.wait()
        if socket.close_code is not None:
            raise Unauthenticated("not_signed_in", "Sign in to continue.")

    # --- the signal (runs in the bus reader: never awaits) --------------------------------

    def _on_change(self, channel: str, payload: str) -> None:
        change = channels.read_standing(payload)
        if change is None:
            logger.warning("dropping a malformed message on %s", channel)
            return
        if change.reason == Reason.SIGNED_OUT:
            ended = None if change.sessions is None else frozenset(change.sessions)
            for uid in change.users:
                for socket in tuple(self._people.get(uid, ())):
                    if ended is None or socket.session_id in ended:
                        self._revoke(socket)
            self._media.end(Which(frozenset(change.users), ended), "signed out")
        elif change.reason == Reason.DELETED:
            for uid in change.users:
                for socket in tuple(self._people.get(uid, ())):
                    self._revoke(socket)
            self._media.end(Which(frozenset(change.users)), "account deleted")
        else:
            # A status, or any reason added later: look the people up again. Until then
            # their commands wait (``check``), so none runs as who they were.
            heard = {c.user_id for c in self._media.connections()}
            here = [uid for uid in change.users if uid in self._people or uid in heard]
            if not here:
                return
            done = asyncio.Event()
            for uid in here:
                self._looking_up[uid] = done
            self._spawn(self._look_up(here, done))

    async def _look_up(self, user_ids: list[int], done: asyncio.Event) -> None:
        try:
            fresh: dict[int, User] | None = await self._standing.people(user_ids)
        except Exception:
            # Closing is always safe: the client signs in again and is looked up then.
            logger.exception("looking up %s people whose standing changed failed", len(user_ids))
            fresh = None
        finally:
            for uid in user_ids:
                if self._looking_up.get(uid) is done:
                    del self._looking_up[uid]
            done.set()
        for uid in user_ids:
            now = fresh.get(uid) if fresh is not None else None
            for socket in tuple(self._people.get(uid, ())):
                self._follow(socket, now)
        moment = self._standing.now()
        unheard = {
            uid for uid in user_ids if not may_use_audio(fresh.get(uid) if fresh else None, moment)
        }
        if unheard:
            self._media.end(Which(frozenset(unheard)), "lost their standing")

    # --- the sweep: for signals missed ----------------------------------------------------

    async def sweep(self) -> None:
        """Read every local socket's and audio connection's session and person (one query
        per 500 sessions) and follow them: an expired session, or a signal this process
        missed, ends here."""
        sockets = [s for group in self._people.values() for s in group]
        heard = {c.auth_session for c in self._media.connections() if c.auth_session is not None}
        ids = sorted({s.session_id for s in sockets} | heard)
        if not ids:
            return
        holders = await self._standing.holders(ids, {s.user_id: s.user for s in sockets})
        for socket in sockets:
            self._follow(socket, holders.get(socket.session_id))
        now = self._standing.now()
        ended = {sid for sid in heard if not may_use_audio(holders.get(sid), now)}
        if ended:
            self._media.end(Which(auth_sessions=frozenset(ended)), "session ended")

    # --- acting on a socket ---------------------------------------------------------------

    def _follow(self, socket: Socket, now: User | None) -> None:
        if lowered(socket.user, now, self._standing.now()):
            self._revoke(socket)
        elif now is not None:
            socket.user = now

    def _revoke(self, socket: Socket) -> None:
        if socket.close_code is None:
            logger.info("closing a socket of user %s: its standing changed", socket.user_id)
        socket.close(CLOSE_UNAUTHENTICATED)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
