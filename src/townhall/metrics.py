"""Prometheus metrics of one process (``GET /metrics``, docs/operations.md "Metrics").

Counting is cheap: a request adds to one counter and one histogram, and the rest is read
when Prometheus scrapes: the sockets this process holds, and three counts from the
database (live rooms, their listeners, the outbox backlog), shared by all processes.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from townhall.errors import RateLimited
from townhall.ratelimit import RateLimiter
from townhall.storage.db import Database
from townhall.storage.models import OutboxRow, Room, RoomMember
from townhall.vocabulary import RoomRole, RoomStatus

if TYPE_CHECKING:
    from townhall.api.ws.gateway import Gateway

# Latency buckets, in seconds: from a cached read to a slow join under load.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CountingLimiter:
    """A rate limiter that counts its refusals by limit name (the key's first part, such as
    ``follows`` in ``follows:42``), so that no person's key becomes a label."""

    def __init__(self, inner: RateLimiter) -> None:
        self._inner = inner
        self.refusals: Tally[str] = Tally()

    async def hit(self, key: str, limit: str, cost: int = 1) -> None:
        try:
            await self._inner.hit(key, limit, cost)
        except RateLimited:
            self.refusals[key.split(":", 1)[0]] += 1
            raise

    async def reset(self, key: str) -> None:
        await self._inner.reset(key)

    async def close(self) -> None:
        await self._inner.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class Metrics:
    """This process's registry. ``request`` is called once a request; ``render`` at a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "townhall_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "townhall_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._state: dict[str, float] = {}
        self._gateway: Gateway | None = None
        self._refusals: Tally[str] = Tally()
        self.registry.register(_Scraped(self))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def follow(self, gateway: Gateway, limiter: CountingLimiter) -> None:
        """What the scrape reads from the running process: its sockets and refusals."""
        self._gateway = gateway
        self._refusals = limiter.refusals

    async def render(self, db: Database) -> bytes:
        async with db.transaction() as tx:
            live = Room.status == RoomStatus.LIVE
            rooms = await tx.scalar(select(func.count()).select_from(Room).where(live))
            listeners = await tx.scalar(
                select(func.count())
                .select_from(RoomMember)
                .join(Room, Room.id == RoomMember.room_id)
                .where(live, RoomMember.role == RoomRole.LISTENER)
            )
            backlog = await tx.scalar(select(func.count()).select_from(OutboxRow))
        self._state = {
            "rooms": float(rooms or 0),
            "listeners": float(listeners or 0),
            "backlog": float(backlog or 0),
        }
        return generate_latest(self.registry)


class _Scraped(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        m = self._m
        gateway = m._gateway
        yield GaugeMetricFamily(
            "townhall_websockets_open",
            "WebSocket sockets open on this process.",
            len(gateway.connections) if gateway else 0,
        )
        yield CounterMetricFamily(
            "townhall_websocket_queue_drops",
            "Sockets closed because their send queue was full (the client too slow).",
            gateway.slow_closed if gateway else 0,
        )
        refusals = CounterMetricFamily(
            "townhall_rate_limit_refusals",
            "Attempts refused by a rate limit on this process, by limit.",
            labels=["limit"],
        )
        for name, count in sorted(m._refusals.items()):
            refusals.add_metric([name], count)
        yield refusals
        for key, name, text in (
            ("rooms", "townhall_live_rooms", "Live rooms on the instance."),
            ("listeners", "townhall_room_listeners", "Listeners in live rooms on the instance."),
            (
                "backlog",
                "townhall_outbox_backlog",
                "Outbox rows not yet delivered.",
            ),
        ):
            if key in m._state:
                yield GaugeMetricFamily(name, text, m._state[key])
