"""Things that happened, told to whoever cares: durably through the outbox, or as hints.

A domain service that changed something others may want to hear about (a room started, a
person followed, an event was scheduled) calls ``await happenings.record(tx, Happening(...))``
*inside* the transaction of the change. The happening is written to the outbox as JSON
and commits with the change; an outbox worker (``domain/outbox.py``), in this process or
another, later tells it to every listener (the notifications service, the hallway), so
the request never waits for a fan-out and a crash after the commit loses nothing.

Delivery is at least once: a listener may be told the same happening twice (the worker
died before it could delete the row). Each recorded happening therefore has a key (its
own, or one made when it is recorded), and listeners act once per key: a notification
with a key is stored once.

``hint`` is the other way: told at once to this process's listeners, after the commit,
never stored, lost if the process dies. It is for signals that only make a cache stale
(the hallway's "live rooms changed"), which the next periodic refresh would catch anyway.

A listener that fails is logged and does not stop the others; a recorded happening is
then tried again later (all its listeners are told again: they must not mind).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.domain.outbox import OutboxWorker

logger = logging.getLogger(__name__)

TOPIC = "happening"
"""The outbox topic of recorded happenings."""


@dataclass(frozen=True)
class Recipients:
    """Who a happening concerns, resolved by the listener (in SQL, for large audiences)."""

    users: tuple[int, ...] = ()
    """These people."""
    followers_of: tuple[int, ...] = ()
    """Everyone who follows any of these people."""
    club: int | None = None
    """Members and followers of this club."""
    event: int | None = None
    """Everyone who asked to be reminded of this scheduled event."""


@dataclass(frozen=True)
class Happening:
    kind: str
    """A notification kind, for example ``room.started`` (the list is in docs/notifications.md)."""
    recipients: Recipients
    actor_id: int | None = None
    """Who did it; never told about their own action."""
    data: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable details (room id, title, club id, event id ...)."""
    key: str | None = None
    """Same key for the same thing said twice (a second "is speaking" in one room): said once."""


def to_json(h: Happening) -> dict[str, Any]:
    return asdict(h)


def from_json(body: dict[str, Any]) -> Happening:
    r = body["recipients"]
    return Happening(
        kind=body["kind"],
        recipients=Recipients(
            users=tuple(r["users"]),
            followers_of=tuple(r["followers_of"]),
            club=r["club"],
            event=r["event"],
        ),
        actor_id=body["actor_id"],
        data=body["data"],
        key=body["key"],
    )


Listener = Callable[[Happening], Awaitable[None]]


class Happenings:
    def __init__(self, outbox: OutboxWorker) -> None:
        self._outbox = outbox
        self._listeners: list[Listener] = []
        outbox.handle(TOPIC, self._deliver)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def record(self, tx: AsyncSession, *happenings: Happening) -> None:
        """Write happenings in the change's transaction ``tx``; they are told once it commits."""
        if happenings:
            await self._outbox.put(
                tx,
                TOPIC,
                *(to_json(h if h.key else replace(h, key=_once())) for h in happenings),
            )

    async def hint(self, happening: Happening) -> None:
        """Tell this process's listeners now, after a commit; not stored (see the module)."""
        await self._tell(happening)

    async def _deliver(self, body: dict[str, Any]) -> None:
        if not await self._tell(from_json(body)):
            raise ListenerFailed(body["kind"])

    async def _tell(self, happening: Happening) -> bool:
        ok = True
        for listener in self._listeners:
            try:
                await listener(happening)
            except Exception:
                logger.exception("a listener failed on %s", happening.kind)
                ok = False
        return ok


class ListenerFailed(Exception):
    """A listener raised (it was logged); the outbox tries the happening again later."""


def _once() -> str:
    # A key for a happening that has none: a redelivery of the same row is then said once.
    return f"once:{secrets.token_urlsafe(12)}"


__all__ = ["Happening", "Happenings", "Recipients", "from_json", "to_json"]
