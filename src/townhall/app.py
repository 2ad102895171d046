"""Composition root: builds every component from the settings, owns their lifetimes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from townhall.api.ws.gateway import PRESENCE_INTERVAL, Gateway, Hints
from townhall.api.ws.standing import SocketStandings
from townhall.bus import EventBus
from townhall.bus.memory import MemoryBus
from townhall.bus.redis import RedisBus
from townhall.clock import Clock, SystemClock
from townhall.config import Settings, check_can_serve
from townhall.domain.accounts import Accounts
from townhall.domain.avatars import Pictures
from townhall.domain.clubs.service import Clubs
from townhall.domain.creators import Creators
from townhall.domain.erasure import Erasure
from townhall.domain.events import Events
from townhall.domain.graph import Graph
from townhall.domain.hallway import Hallway
from townhall.domain.happenings import Happenings
from townhall.domain.incident_audio import IncidentAudios
from townhall.domain.invites import Invites
from townhall.domain.moderation import StaffActions
from townhall.domain.notifications import Notifications
from townhall.domain.operators import Operators
from townhall.domain.outbox import OutboxWorker
from townhall.domain.payments.provider import PaymentProvider
from townhall.domain.profile import Profiles
from townhall.domain.push import TOPIC as PUSH_TOPIC
from townhall.domain.push import Push
from townhall.domain.reports import Reports
from townhall.domain.rooms.audience import AudienceDigests
from townhall.domain.rooms.retention import SWEEP_INTERVAL as ROOM_LOG_SWEEP_INTERVAL
from townhall.domain.rooms.retention import RoomLogs
from townhall.domain.rooms.service import Rooms
from townhall.domain.rooms.shared import SharedSnapshots
from townhall.domain.search import Search
from townhall.domain.standing import Standing
from townhall.domain.subscriptions import Subscriptions
from townhall.domain.tickets import Tickets
from townhall.domain.voice import Voice
from townhall.domain.waitlist import Waitlist
from townhall.files import FileStore, private_dir
from townhall.mail import MAIL_TOPIC, Mailer
from townhall.media.backend import MediaBackend
from townhall.media.sealed import SealedStore
from townhall.media.server import MediaServer
from townhall.metrics import CountingLimiter, Metrics
from townhall.quota import RENEW_SECONDS, MemoryQuota, Quota, RedisQuota
from townhall.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from townhall.storage.db import Database
from townhall.storage.search import people_search_for
from townhall.tasks import Periodic
from townhall.webpush import WebPusher, vapid_key

logger = logging.getLogger(__name__)


@dataclass
class Container:
    """Every long-lived component, built once. ``close()`` releases them all."""

    settings: Settings
    clock: Clock
    db: Database
    limiter: RateLimiter
    mailer: Mailer
    files: FileStore
    accounts: Accounts
    invites: Invites
    waitlist: Waitlist
    operators: Operators
    profiles: Profiles
    erasure: Erasure
    graph: Graph
    bus: EventBus
    outbox: OutboxWorker
    happenings: Happenings
    rooms: Rooms
    clubs: Clubs
    events: Events
    sweeper: Periodic
    room_logs: RoomLogs
    room_log_sweeper: Periodic
    gateway: Gateway
    presence: Periodic
    digests: AudienceDigests
    digester: Periodic
    standing: Standing
    standings: SocketStandings
    standing_sweeper: Periodic
    socket_quota: Quota
    quota_renewal: Periodic
    media: MediaBackend
    voice: Voice
    notifications: Notifications
    notification_sweeper: Periodic
    hallway: Hallway
    incident_sweeper: Periodic
    reports: Reports
    incident_audio: IncidentAudios
    staff_actions: StaffActions
    search: Search
    push: Push
    metrics: Metrics
    creators: Creators
    tickets: Tickets
    subscriptions: Subscriptions
    subscription_sweeper: Periodic
    _closed: bool = field(default=False, repr=False)

    @property
    def sweeps(self) -> tuple[Periodic, ...]:
        """The rounds that act on the passing of time: the room sweeper, the sockets'
        presence round, the notification sweeper, the sockets' standing round, the sweeper
        of ended rooms' logs, the destruction of incident audio past its retention, the
        renewal of club subscriptions."""
        return (
            self.sweeper,
            self.presence,
            self.notification_sweeper,
            self.standing_sweeper,
            self.room_log_sweeper,
            self.incident_sweeper,
            self.subscription_sweeper,
        )

    async def start(self) -> None:
        """Start the background parts: the bus reader, hallway hints, the outbox worker, the
        renewal of shared holds and, unless ``periodic_sweeps`` is off (a fake clock moved by
        hand), the sweeps."""
        await self.bus.start()
        await self.media.start()
        await self.gateway.follow_shared()
        await self.standings.start()
        self.hallway.start()
        # Not a sweep: holds lapse on real time, whatever the clock of the rooms says.
        self.quota_renewal.start()
        if self.settings.periodic_sweeps:
            for sweep in self.sweeps:
                sweep.start()
        self.outbox.start()
        # Not a sweep: digests batch deliveries in real time, whatever the clock says.
        self.digester.start()

    async def drain(self) -> None:
        """Before the process stops (SIGTERM, once it no longer accepts connections): tell
        every socket to reconnect elsewhere once the commands it took are answered, within
        ``shutdown_grace_seconds``. HTTP requests under way are finished by the server."""
        grace = self.settings.shutdown_grace_seconds
        started = asyncio.get_running_loop().time()
        sockets = await self.gateway.drain(grace)
        logger.info(
            "shutting down: %d sockets told to reconnect in %.1f s",
            sockets,
            asyncio.get_running_loop().time() - started,
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.outbox.close()
        await self.push.close()
        await self.creators.provider.close()
        for sweep in self.sweeps:
            await sweep.close()
        await self.digester.close()
        await self.gateway.close()
        await self.quota_renewal.close()
        await self.socket_quota.close()
        await self.standings.close()
        await self.media.close()
        await self.hallway.close()
        await self.bus.close()
        await self.limiter.close()
        await self.db.close()


def instance_secret(settings: Settings) -> bytes:
    """The key for keyed hashes; generated once into the data directory when not configured."""
    if settings.secret_key is not None:
        return hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        private_dir(settings.data_dir)
        # Created with its final mode: never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return bytes.fromhex(path.read_text().strip())


def media_backend(
    settings: Settings,
    bus: EventBus,
    incidents: SealedStore,
    clock: Clock,
    db: Database,
    secret: bytes,
) -> MediaBackend:
    """The media plane the settings name: the embedded server in media worker processes
    or in this one, or Janus instances."""
    if settings.media_backend == "janus":
        from townhall.media.janus.backend import JanusBackend

        return JanusBackend(settings, bus, incidents, clock)
    if settings.media_worker_count or settings.media_worker_addresses:
        from townhall.media.pool import WorkerPool

        return WorkerPool(settings, bus, db, incidents, clock, secret)
    return MediaServer(settings, bus, incidents, clock)


def webhook_secret(settings: Settings, secret: bytes) -> bytes:
    """The secret the provider signs webhooks with: configured for a real provider, and
    for the local one made from the instance secret."""
    if settings.payments_webhook_secret is not None:
        return settings.payments_webhook_secret.get_secret_value().encode()
    return hmac.new(secret, b"payments-webhook", hashlib.sha256).hexdigest().encode()


def payment_provider(settings: Settings, secret: bytes, clock: Clock) -> PaymentProvider:
    """The payment provider the settings name (docs/creators.md)."""
    if settings.payments_provider == "stripe":
        from townhall.domain.payments.stripe import StripeProvider

        key = settings.payments_stripe_api_key  # check_can_serve refuses to serve without
        return StripeProvider(
            key.get_secret_value() if key else "",
            percent_bps=settings.payments_fee_bps,
            fixed=settings.payments_fee_fixed,
            timeout=settings.payments_timeout_seconds,
        )
    from townhall.domain.payments.local import LocalProvider

    return LocalProvider(
        settings.data_dir / "local-payments.jsonl",
        webhook_secret(settings, secret),
        clock,
        percent_bps=settings.payments_fee_bps,
        fixed=settings.payments_fee_fixed,
        confirm=settings.payments_local_confirm,
    )


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    private_dir(settings.data_dir)
    db = Database(
        settings.resolved_database_url,
        pool=(
            settings.database_pool_size,
            settings.database_pool_overflow,
            settings.database_pool_timeout,
        ),
    )
    # Refusals are counted for the metrics whatever the store.
    limiter = CountingLimiter(
        RedisRateLimiter(settings.redis_url, clock, settings.redis_prefix + "rl:")
        if settings.redis_url
        else MemoryRateLimiter(clock)
    )
    mailer = Mailer(settings)
    files = FileStore(settings.data_dir / "files")
    secret = instance_secret(settings)
    bus: EventBus = (
        RedisBus(settings.redis_url, settings.redis_prefix + "bus:")
        if settings.redis_url
        else MemoryBus()
    )
    # Work that follows a change: written in its transaction, delivered by this worker.
    outbox = OutboxWorker(db, settings, clock)
    outbox.handle(MAIL_TOPIC, mailer.deliver)
    push = Push(db, settings, clock, limiter, WebPusher(settings, vapid_key(settings)))
    outbox.handle(PUSH_TOPIC, push.deliver)
    happenings = Happenings(outbox)
    pictures = Pictures(settings, limiter, files)
    notifications = Notifications(db, settings, clock, bus, outbox)
    happenings.listen(notifications.on_happening)
    # What every snapshot of a room shares, kept while this process hears its roster.
    shared = SharedSnapshots(settings.room_snapshot_audience)
    rooms = Rooms(db, settings, clock, bus, limiter, happenings, shared)
    room_logs = RoomLogs(db, settings, clock)
    events = Events(db, settings, clock, limiter, rooms, happenings)
    hallway = Hallway(db, settings, clock, bus, events.upcoming_for)
    happenings.listen(hallway.on_happening)
    incidents = SealedStore(
        settings.data_dir / "incidents", secret, clock, settings.incident_audio_retention_days
    )
    media = media_backend(settings, bus, incidents, clock, db, secret)
    digests = AudienceDigests(db, settings, bus, shared)
    gateway = Gateway(
        bus,
        rooms,
        digests,
        Hints(settings.hallway_hint_seconds, settings.hallway_hint_fanout),
        also_present=media.present,
    )
    standing = Standing(db, clock, bus)
    socket_quota: Quota = (
        RedisQuota(settings.redis_url, settings.redis_prefix + "quota:")
        if settings.redis_url
        else MemoryQuota()
    )
    standings = SocketStandings(bus, standing, media)
    reports = Reports(db, settings, clock, limiter)
    # A report about a live room, or someone in it, seals the room's audio (docs/safety.md).
    incident_audio = IncidentAudios(bus, incidents)
    reports.listen(incident_audio.on_report)
    graph = Graph(db, settings, clock, limiter, people_search_for(db.dialect), happenings)
    clubs = Clubs(db, settings, clock, limiter, pictures, happenings)
    metrics = Metrics()
    metrics.follow(gateway, limiter)
    creators = Creators(
        db,
        settings,
        clock,
        payment_provider(settings, secret, clock),
        rooms,
        webhook_secret(settings, secret),
    )
    subscriptions = Subscriptions(db, settings, clock, creators)
    return Container(
        settings=settings,
        clock=clock,
        db=db,
        limiter=limiter,
        mailer=mailer,
        files=files,
        accounts=Accounts(db, settings, clock, mailer, limiter, secret, happenings, standing),
        invites=Invites(db, settings, clock, mailer, limiter),
        waitlist=Waitlist(db, settings, clock, limiter, happenings, standing),
        operators=Operators(db, settings, clock, standing, happenings),
        profiles=Profiles(db, settings, pictures, limiter),
        erasure=Erasure(db, clock, standing, rooms, pictures),
        graph=graph,
        bus=bus,
        outbox=outbox,
        happenings=happenings,
        rooms=rooms,
        clubs=clubs,
        events=events,
        sweeper=Periodic("room-sweeper", settings.room_sweep_interval_seconds, rooms.sweep),
        room_logs=room_logs,
        room_log_sweeper=Periodic("room-log-sweeper", ROOM_LOG_SWEEP_INTERVAL, room_logs.sweep),
        gateway=gateway,
        presence=Periodic("ws-presence", PRESENCE_INTERVAL, gateway.heartbeat),
        digests=digests,
        digester=Periodic(
            "audience-digests",
            settings.room_digest_seconds,
            lambda: digests.tick(asyncio.get_running_loop().time()),
        ),
        standing=standing,
        standings=standings,
        standing_sweeper=Periodic(
            "ws-standing", settings.ws_standing_sweep_seconds, standings.sweep
        ),
        socket_quota=socket_quota,
        quota_renewal=Periodic("quota-renewal", RENEW_SECONDS, socket_quota.renew),
        media=media,
        voice=Voice(settings, rooms, media, limiter, secret),
        notifications=notifications,
        notification_sweeper=Periodic(
            "notification-sweeper",
            settings.notification_sweep_interval_seconds,
            notifications.sweep,
        ),
        hallway=hallway,
        incident_sweeper=Periodic(
            "incident-sweeper", settings.incident_sweep_interval_seconds, media.sweep_incidents
        ),
        reports=reports,
        incident_audio=incident_audio,
        staff_actions=StaffActions(db, clock, standing, rooms, happenings),
        search=Search(graph, hallway, clubs, events),
        push=push,
        metrics=metrics,
        creators=creators,
        tickets=Tickets(db, clock, creators, events, outbox),
        subscriptions=subscriptions,
        subscription_sweeper=Periodic(
            "subscriptions", settings.payments_subscription_sweep_seconds, subscriptions.sweep
        ),
    )


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The ASGI app for ``townhall serve``: migrates, then serves until shut down."""
    from townhall.api.http import create_api

    check_can_serve(settings)
    holder: dict[str, Container] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = holder["container"]
        await container.db.migrate()
        await container.start()
        try:
            yield
        finally:
            await container.close()

    container = build_container(settings, clock)
    holder["container"] = container
    return create_api(container, lifespan=lifespan)
