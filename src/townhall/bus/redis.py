"""The Redis pub/sub bus: every API process publishes to and listens on the same channels."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from townhall import redis_client
from townhall.bus import Handler
from townhall.bus.local import Subscribers
from townhall.tasks import stop

logger = logging.getLogger(__name__)

# Take the lease when it is free, keep it when it is ours; Redis's clock decides expiry.
_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class RedisBus:
    """One connection publishes; one pub/sub connection, read by one task, receives.

    (Un)subscribing goes through ``_lock`` so the Redis subscription set always equals the
    channels that have local handlers."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Any = redis_client.connect(url)
        self._pubsub: Any = self._redis.pubsub()
        self._prefix = prefix
        self._subscribers = Subscribers()
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._me = secrets.token_hex(8)
        self._lead = self._redis.register_script(_LEAD)

    async def start(self) -> None:
        if self._reader is None:
            # Subscribing to a private channel opens the pub/sub connection up front.
            await self._pubsub.subscribe(self._prefix + "_alive")
            self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def publish(self, channel: str, payload: str) -> None:
        await self._redis.publish(self._prefix + channel, payload)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        async with self._lock:
            if self._subscribers.add(channel, handler):
                await self._pubsub.subscribe(self._prefix + channel)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        async with self._lock:
            if self._subscribers.remove(channel, handler) and not self._closed:
                await self._pubsub.unsubscribe(self._prefix + channel)

    async def lead(self, name: str, seconds: float) -> bool:
        held = await self._lead(
            keys=[self._prefix + "lease:" + name], args=[self._me, int(seconds * 1000)]
        )
        return bool(held)

    async def _read(self) -> None:
        cut = len(self._prefix)
        while not self._closed:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reading from the Redis bus failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()[cut:]
            data = message["data"]
            self._subscribers.dispatch(channel, data.decode() if isinstance(data, bytes) else data)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            await stop(self._reader)
        await self._pubsub.aclose()
        await self._redis.aclose()
