"""Things that happened, told to whoever cares inside this process.

A domain service that changed something others may want to hear about (a room started, a
person followed, an event was scheduled) calls ``await happenings.emit(Happening(...))``
*after* its transaction has committed. Listeners (the notifications service, the hallway)
subscribe at start-up. One happening is emitted once, by the process where it happened, so
listeners need no de-duplication across processes.

A listener that fails is logged and does not stop the others nor the caller: the change it
reacts to has already been committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


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


Listener = Callable[[Happening], Awaitable[None]]


class Happenings:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def emit(self, happening: Happening) -> None:
        for listener in self._listeners:
            try:
                await listener(happening)
            except Exception:
                logger.exception("a listener failed on %s", happening.kind)
