"""Web Push (S9's optional channel): subscriptions per device, and delivering notifications
to them (docs/notifications.md, "Web Push").

What is pushed is exactly what is delivered live: the notifications service writes an
outbox row (topic ``push``) for the recipients whose inbox item is ``live`` — so a kind
turned off, "fewer notifications", a pause and the hourly cap all apply before anything is
pushed, and a summary of held items is pushed when it is released. On top of that each
person gets at most ``push_daily_cap`` pushes a day (counted by the shared rate limiter);
past it their notifications still arrive in the inbox and on open sockets.

Delivery is best effort: the handler never raises (a redelivered row would push twice to
the devices already reached), a push service's 404 or 410 forgets the subscription, and
any other failure is logged.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from townhall.clock import Clock
from townhall.config import Settings
from townhall.errors import Conflict, InvalidInput, NotFound, RateLimited
from townhall.ratelimit import RateLimiter
from townhall.storage import push as store
from townhall.storage.db import Database
from townhall.storage.models import PushSubscription, User
from townhall.webpush import GONE, Target, WebPusher, endpoint_allowed, unb64url

logger = logging.getLogger(__name__)

TOPIC = "push"
"""The outbox topic: ``{"users": [ids], "item": <the live notification>}``."""
BATCH = 200
"""Recipients per outbox row."""
MAX_PAYLOAD = 3000
"""Bytes of JSON a push carries (services take about 4 KiB after encryption); a larger
item goes as its id and kind only, and the app reads the rest from the inbox."""
LANGUAGES = frozenset({"en", "ru", "ro", "it", "ko", "ar"})
URGENT = frozenset({"room.pinged", "event.starting", "waitlist.admitted"})


def endpoint_hash(endpoint: str) -> str:
    return sha256(endpoint.encode()).hexdigest()


@dataclass(frozen=True)
class PushStatus:
    enabled: bool
    """Whether this server pushes at all (``push_daily_cap`` above 0)."""
    public_key: str
    """The VAPID key browsers subscribe with (``applicationServerKey``)."""
    devices: int
    subscribed: bool | None
    """Whether the endpoint asked about is this person's; None when none was named."""


class Push:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
        pusher: WebPusher,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._pusher = pusher

    @property
    def enabled(self) -> bool:
        return self._settings.push_daily_cap > 0

    async def close(self) -> None:
        await self._pusher.close()

    # --- subscriptions --------------------------------------------------------------------

    async def status(self, user: User, endpoint: str | None = None) -> PushStatus:
        async with self._db.transaction() as tx:
            devices = await store.count_of(tx, user.id)
            mine = await store.has(tx, user.id, endpoint_hash(endpoint)) if endpoint else None
        return PushStatus(self.enabled, self._pusher.public_key, devices, mine)

    async def subscribe(
        self, user: User, session_id: int, endpoint: str, p256dh: str, auth: str, lang: str
    ) -> None:
        """Keep this device's subscription (the browser's ``PushSubscription``), tied to the
        session that made it."""
        if not self.enabled:
            raise Conflict("push_disabled", "This server sends no push notifications.")
        if not endpoint_allowed(endpoint, self._settings):
            raise InvalidInput(
                "push_endpoint_refused", "That is not the address of a known push service."
            )
        try:
            key, secret = unb64url(p256dh), unb64url(auth)
        except ValueError:
            key, secret = b"", b""
        if len(key) != 65 or key[0] != 4 or len(secret) != 16:
            raise InvalidInput(
                "invalid_push_keys", "The keys are a P-256 point (p256dh) and 16 bytes (auth)."
            )
        row = PushSubscription(
            user_id=user.id,
            session_id=session_id,
            endpoint=endpoint,
            endpoint_hash=endpoint_hash(endpoint),
            p256dh=p256dh,
            auth=auth,
            lang=lang if lang in LANGUAGES else "en",
            created_at=self._clock.now(),
        )
        async with self._db.transaction() as tx:
            await store.save(tx, row)

    async def unsubscribe(self, user: User, endpoint: str) -> None:
        async with self._db.transaction() as tx:
            if not await store.remove(tx, user.id, endpoint_hash(endpoint)):
                raise NotFound("push_subscription_not_found", "This device is not subscribed.")

    # --- delivery (the outbox handler of ``TOPIC``) -----------------------------------------

    async def deliver(self, body: dict[str, Any]) -> None:
        users = [int(u) for u in body.get("users", [])]
        item = dict(body.get("item") or {})
        async with self._db.transaction() as tx:
            subscriptions = await store.of_users(tx, users)
        by_user: dict[int, list[PushSubscription]] = defaultdict(list)
        for s in subscriptions:
            by_user[s.user_id].append(s)
        now = int(self._clock.now().timestamp())
        urgency = "high" if item.get("name") in URGENT else "normal"
        cap = f"{self._settings.push_daily_cap}/86400"
        gone: list[int] = []
        for uid, devices in by_user.items():
            try:
                await self._limiter.hit(f"push-day:{uid}", cap)
            except RateLimited:
                continue  # over today's cap: the inbox and open sockets still have it
            for s in devices:
                payload = _payload(item, s.lang)
                status = await self._pusher.send(
                    Target(s.endpoint, s.p256dh, s.auth), payload, now, urgency
                )
                if status in GONE:
                    gone.append(s.id)
        if gone:
            async with self._db.transaction() as tx:
                for sid in gone:
                    await store.forget(tx, sid)
            logger.info("forgot %s push subscriptions their services no longer know", len(gone))


def _payload(item: dict[str, Any], lang: str) -> bytes:
    """What the service worker reads (sw.js): the live notification and the language to
    word it in."""
    text = json.dumps({**item, "lang": lang}, separators=(",", ":")).encode()
    if len(text) <= MAX_PAYLOAD:
        return text
    short = {"id": item.get("id"), "name": item.get("name"), "lang": lang, "short": True}
    return json.dumps(short, separators=(",", ":")).encode()
