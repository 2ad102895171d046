"""The in-process bus: the embedded default, for a single API process."""

from __future__ import annotations

from townhall.bus import Handler
from townhall.bus.local import Subscribers


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers = Subscribers()

    async def start(self) -> None:
        return None

    async def publish(self, channel: str, payload: str) -> None:
        self._subscribers.dispatch(channel, payload)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._subscribers.add(channel, handler)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        self._subscribers.remove(channel, handler)

    async def lead(self, name: str, seconds: float) -> bool:
        return True  # the only process

    async def close(self) -> None:
        return None
