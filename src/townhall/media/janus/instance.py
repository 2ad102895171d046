"""One Janus instance as the backend sees it: up or down, its load, its control handles.

``Instance.run`` is its owner task: it connects, attaches one AudioBridge and one Streaming
handle for room-level requests (create, mute, kick, forwarders), says the instance is up,
and when the socket is lost says it is down and tries again, backing off, until closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from townhall.media.janus.api import Connection, JanusError, Lost

logger = logging.getLogger(__name__)

AUDIOBRIDGE = "janus.plugin.audiobridge"
STREAMING = "janus.plugin.streaming"


class Instance:
    def __init__(
        self,
        name: str,
        url: str,
        forward_address: str | None,
        api_secret: str | None,
        on_event: Callable[[Instance, int, dict[str, Any]], None],
        on_up: Callable[[Instance], None],
        on_down: Callable[[Instance], None],
    ) -> None:
        self.name = name
        self.url = url
        self.forward_address = forward_address or urlsplit(url).hostname or "127.0.0.1"
        """Where the others send this instance's mountpoints their RTP."""
        self._secret = api_secret
        self._on_event = on_event
        self._on_up = on_up
        self._on_down = on_down
        self.connection: Connection | None = None
        self.bridge = 0
        """The AudioBridge handle for room-level requests."""
        self.streaming = 0
        """The Streaming handle for mountpoint requests."""
        self.up = False
        self.load = 0
        """Connections placed here."""
        self.ready = asyncio.Event()
        self._closed = False

    @property
    def api(self) -> Connection:
        if self.connection is None or not self.up:
            raise Lost(f"Janus at {self.url} is down")
        return self.connection

    async def run(self) -> None:
        delay = 0.5
        while not self._closed:
            connection = Connection(
                self.url,
                self._secret,
                lambda handle, message: self._on_event(self, handle, message),
            )
            try:
                await connection.open()
                self.bridge = await connection.attach(AUDIOBRIDGE)
                self.streaming = await connection.attach(STREAMING)
            except JanusError as exc:
                await connection.close()
                if not self._closed:
                    logger.warning("janus: %s unavailable: %s", self.url, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self.connection = connection
            self.up = True
            self.load = 0
            logger.info("janus: %s is up", self.url)
            self._on_up(self)
            self.ready.set()
            await connection.lost.wait()
            self.up = False
            self.ready.clear()
            if not self._closed:
                logger.warning("janus: %s is down: %s", self.url, connection.why)
                self._on_down(self)
            await connection.close()

    async def close(self) -> None:
        self._closed = True
        self.up = False
        if self.connection is not None:
            await self.connection.close()
