"""The one way Townhall reaches Redis: a client whose pool makes a caller wait for a free
connection instead of failing.

redis-py's default pool raises ``MaxConnectionsError`` as soon as ``max_connections``
commands are in flight at once, which a storm reaches (a thousand sockets closing at once
release a thousand holds). Waiting a moment is what a caller wants; a command that still
finds no connection after ``WAIT_SECONDS`` fails as a lost connection would.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

CONNECTIONS = 64
"""Connections one client (bus, rate limits, socket holds) opens at most in a process."""
WAIT_SECONDS = 10.0


def connect(url: str) -> Any:
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=CONNECTIONS, timeout=WAIT_SECONDS
    )
    return aioredis.Redis.from_pool(pool)
