"""The event bus: carries committed events to every API process (in memory or via Redis).

Payloads are JSON text, published once and handed as-is to every local subscriber, so a
room event is serialised exactly once however many sockets receive it. Handlers run on
the event loop and must not block or await: they enqueue and return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, str], None]
"""Called with (channel, payload) for every message on a subscribed channel."""


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, channel: str, payload: str) -> None:
        """Deliver ``payload`` to every subscriber of ``channel`` in every process."""
        ...

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Start delivering ``channel``; once this returns no later message is missed."""
        ...

    async def unsubscribe(self, channel: str, handler: Handler) -> None: ...

    async def lead(self, name: str, seconds: float) -> bool:
        """Hold (or keep holding) the lease ``name`` for ``seconds``: True while this
        process is the one that holds it. Work that must happen once for all processes
        (a room's audience digest) is done by the holder."""
        ...

    async def close(self) -> None: ...
