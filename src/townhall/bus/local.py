"""Subscriber bookkeeping shared by both bus implementations."""

from __future__ import annotations

import logging

from townhall.bus import Handler

logger = logging.getLogger(__name__)


class Subscribers:
    """Channel → handlers of this process. Dispatch never awaits."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def add(self, channel: str, handler: Handler) -> bool:
        """Register; True when the channel had no handler before."""
        handlers = self._handlers.setdefault(channel, [])
        handlers.append(handler)
        return len(handlers) == 1

    def remove(self, channel: str, handler: Handler) -> bool:
        """Unregister; True when the channel has no handler left."""
        handlers = self._handlers.get(channel)
        if not handlers:
            return False
        try:
            handlers.remove(handler)
        except ValueError:
            return False
        if handlers:
            return False
        del self._handlers[channel]
        return True

    def channels(self) -> list[str]:
        """Every channel with a handler."""
        return list(self._handlers)

    def dispatch(self, channel: str, payload: str) -> None:
        for handler in tuple(self._handlers.get(channel, ())):
            try:
                handler(channel, payload)
            except Exception:
                logger.exception("event handler failed on %s", channel)
