"""Rate limits: a sliding window per key, in memory (embedded) or in Redis (shared)."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Protocol

from townhall.clock import Clock
from townhall.config import parse_limit
from townhall.errors import RateLimited


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: str) -> None:
        """Count one attempt under ``key``; raise ``RateLimited`` when over ``limit``."""
        ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Sliding-window log per key for a single process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, limit: str) -> None:
        count, window = parse_limit(limit)
        now = self._clock.now().timestamp()
        async with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= count:
                raise RateLimited(retry_after=math.ceil(hits[0] + window - now))
            hits.append(now)

    async def reset(self, key: str) -> None:
        async with self._lock:
            self._hits.pop(key, None)

    async def close(self) -> None:
        self._hits.clear()


# Atomically: drop expired entries, refuse if full (returning the wait), else record the hit.
_SLIDING_WINDOW = """
local key, now, window, count, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= count then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.ceil(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return 0
"""


class RedisRateLimiter:
    """The same sliding window, shared by every API process through Redis."""

    def __init__(self, url: str, clock: Clock, prefix: str = "townhall:rl:") -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._prefix = prefix
        self._clock = clock
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._seq = 0

    async def hit(self, key: str, limit: str) -> None:
        count, window = parse_limit(limit)
        self._seq += 1
        now = self._clock.now().timestamp()
        wait = await self._script(
            keys=[self._prefix + key], args=[now, window, count, f"{now}:{id(self)}:{self._seq}"]
        )
        if int(wait) > 0:
            raise RateLimited(retry_after=int(wait))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
