"""Caps on things held at once per key (a person's open sockets): in memory for one process,
or in Redis for every process, where each hold is a lease its process keeps renewing.

A process that dies cannot release its holds; in Redis they lapse ``LEASE_SECONDS`` after
its last renewal, so a crash never leaves anyone locked out for longer than that.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from townhall import redis_client

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
RENEW_SECONDS = LEASE_SECONDS / 3
"""How often a process renews its holds: two renewals may fail before one lapses."""


@dataclass(frozen=True)
class Hold:
    key: str
    id: str


class Quota(Protocol):
    async def acquire(self, key: str, cap: int) -> Hold | None:
        """A hold under ``key``, or None when ``cap`` are held already."""
        ...

    async def release(self, hold: Hold) -> None: ...

    async def renew(self) -> None:
        """Keep this process's holds from lapsing (a no-op in memory)."""
        ...

    async def close(self) -> None: ...


class MemoryQuota:
    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}
        self._ids = itertools.count(1)

    async def acquire(self, key: str, cap: int) -> Hold | None:
        held = self._held.setdefault(key, set())
        if len(held) >= cap:
            return None
        hold = Hold(key, str(next(self._ids)))
        held.add(hold.id)
        return hold

    async def release(self, hold: Hold) -> None:
        held = self._held.get(hold.key)
        if held is not None:
            held.discard(hold.id)
            if not held:
                del self._held[hold.key]

    async def renew(self) -> None:
        return None

    async def close(self) -> None:
        return None


# A sorted set per key: member = hold id, score = when its lease ends (Redis's own clock,
# so the processes' clocks need not agree).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return 0
"""


class RedisQuota:
    """Holds shared by every process. If Redis cannot be reached, a hold is granted (and
    logged): the cap bounds abuse, and refusing everyone while Redis is away would be worse."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Any = redis_client.connect(url)
        self._prefix = prefix
        self._process = secrets.token_hex(6)
        self._ids = itertools.count(1)
        self._mine: set[Hold] = set()
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._lease_ms = int(LEASE_SECONDS * 1000)

    async def acquire(self, key: str, cap: int) -> Hold | None:
        hold = Hold(key, f"{self._process}:{next(self._ids)}")
        try:
            got = await self._acquire(
                keys=[self._prefix + key], args=[cap, self._lease_ms, hold.id]
            )
        except Exception:
            logger.warning(
                "the shared cap on %s could not be checked; allowing", key, exc_info=True
            )
            got = 1
        if not got:
            return None
        self._mine.add(hold)
        return hold

    async def release(self, hold: Hold) -> None:
        if hold not in self._mine:
            return  # released already, or at shutdown
        self._mine.discard(hold)
        try:
            await self._redis.zrem(self._prefix + hold.key, hold.id)
        except Exception:
            logger.warning("releasing a hold on %s failed; it lapses", hold.key, exc_info=True)

    async def renew(self) -> None:
        holds = list(self._mine)
        for start in range(0, len(holds), 500):
            batch = holds[start : start + 500]
            await self._renew(
                keys=[self._prefix + h.key for h in batch],
                args=[self._lease_ms, *(h.id for h in batch)],
            )

    async def close(self) -> None:
        holds, self._mine = list(self._mine), set()
        if holds:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for hold in holds:
                        pipe.zrem(self._prefix + hold.key, hold.id)
                    await pipe.execute()
            except Exception:
                logger.warning("releasing %s holds at shutdown failed", len(holds))
        await self._redis.aclose()
