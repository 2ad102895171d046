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
    async def hit(self, key: str, limit: str, cost: int = 1) -> None:
        """Count ``cost`` attempts under ``key``; raise ``RateLimited``, counting none, when
        they would go over ``limit``."""
        ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Sliding-window log per key for a single process.

    Memory stays bounded by the keys hit within their window: a key whose newest hit is
    older than its window is dropped, on its next hit and by a sweep of all keys at most
    every ``SWEEP_SECONDS`` (so keys never hit again, say one per client, go too)."""

    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # key -> (window in seconds, times of its hits within that window, oldest first)
        self._hits: dict[str, tuple[int, deque[float]]] = {}
        self._lock = asyncio.Lock()
        self._next_sweep = 0.0

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._hits)

    async def hit(self, key: str, limit: str, cost: int = 1) -> None:
        count, window = parse_limit(limit)
        now = self._clock.now().timestamp()
        async with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
                self._next_sweep = now + self.SWEEP_SECONDS
            _, hits = self._hits.get(key) or (window, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) + cost > count:
                self._hits[key] = (window, hits)
                # The hit whose expiry makes room for ``cost`` more (never, if cost > count).
                freeing = len(hits) + cost - count - 1
                if cost > count or freeing >= len(hits):
                    raise RateLimited(retry_after=window)
                raise RateLimited(retry_after=max(1, math.ceil(hits[freeing] + window - now)))
            hits.extend([now] * cost)
            self._hits[key] = (window, hits)

    def _sweep(self, now: float) -> None:
        # O(keys), once a minute at most; never awaits, so it runs under the lock whole.
        stale = [
            k for k, (window, hits) in self._hits.items() if not hits or hits[-1] <= now - window
        ]
        for key in stale:
            del self._hits[key]

    async def reset(self, key: str) -> None:
        async with self._lock:
            self._hits.pop(key, None)

    async def close(self) -> None:
        self._hits.clear()


# Atomically: drop expired entries, refuse if ``cost`` more do not fit (returning the wait),
# else record ``cost`` hits.
_SLIDING_WINDOW = """
local key, now, window, count, member, cost = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local held = redis.call('ZCARD', key)
if held + cost > count then
  if cost > count then return window end
  local freeing = redis.call('ZRANGE', key, held + cost - count - 1, held + cost - count - 1,
    'WITHSCORES')
  return math.max(1, math.ceil(tonumber(freeing[2]) + window - now))
end
for i = 1, cost do
  redis.call('ZADD', key, now, member .. ':' .. i)
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return 0
"""


class RedisRateLimiter:
    """The same sliding window, shared by every API process through Redis."""

    def __init__(self, url: str, clock: Clock, prefix: str = "townhall:rl:") -> None:
        from townhall import redis_client

        self._redis = redis_client.connect(url)
        self._prefix = prefix
        self._clock = clock
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._seq = 0

    async def hit(self, key: str, limit: str, cost: int = 1) -> None:
        count, window = parse_limit(limit)
        self._seq += 1
        now = self._clock.now().timestamp()
        wait = await self._script(
            keys=[self._prefix + key],
            args=[now, window, count, f"{now}:{id(self)}:{self._seq}", cost],
        )
        if int(wait) > 0:
            raise RateLimited(retry_after=int(wait))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()
