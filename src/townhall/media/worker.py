"""A media worker: the embedded media server in a process of its own (``townhall media``).

API processes link to it (``media.link``) and forward a room's signalling: offers,
candidates, hang-ups and the connections to end. Who is heard it learns as the in-process
server does, from the room's events: straight from Redis on the production stack, or
through the link of its API process (``LinkBus``) when there is no Redis. A room's stage
state (``seed``) is asked of the API process that sent the room's first offer.

Every ``STATE_SECONDS`` the worker tells each linked API process who is connected here
(when that changed): presence, ``connections()`` and the load it places rooms by.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import struct
import sys
from typing import Any

from townhall import collector
from townhall.bus import EventBus, Handler
from townhall.bus.local import Subscribers
from townhall.bus.redis import RedisBus
from townhall.clock import SystemClock
from townhall.config import Settings
from townhall.errors import InvalidInput
from townhall.media.backend import Which
from townhall.media.link import MAX_LINE, Link, LinkClosed
from townhall.media.policy import StageState
from townhall.media.sealed import SealedStore
from townhall.media.server import MediaServer

logger = logging.getLogger(__name__)

STATE_SECONDS = 0.2
TAG = 8
"""Bytes of HMAC that sign an audience datagram between workers."""
SETTINGS_ENV = "TOWNHALL_MEDIA_WORKER_SETTINGS"
"""How ``townhall serve`` hands its settings to the workers it starts (never logged)."""


class LinkBus:
    """The event bus of a worker without Redis: channels subscribed through the API
    process's link, messages published through it."""

    def __init__(self) -> None:
        self._subscribers = Subscribers()
        self._link: Link | None = None

    async def attach(self, link: Link) -> None:
        """Follow the bus through ``link`` (again, for every channel already followed)."""
        self._link = link
        for channel in self._subscribers.channels():
            await link.call("subscribe", channel=channel)

    def detach(self, link: Link) -> None:
        if self._link is link:
            self._link = None

    def deliver(self, channel: str, payload: str) -> None:
        self._subscribers.dispatch(channel, payload)

    async def start(self) -> None:
        return None

    async def publish(self, channel: str, payload: str) -> None:
        if self._link is not None:
            self._link.tell("publish", channel=channel, payload=payload)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        if self._subscribers.add(channel, handler) and self._link is not None:
            await self._link.call("subscribe", channel=channel)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        if self._subscribers.remove(channel, handler) and self._link is not None:
            self._link.tell("unsubscribe", channel=channel)

    async def lead(self, name: str, seconds: float) -> bool:
        return True

    async def close(self) -> None:
        return None


class Worker:
    """One worker process's media server and the links of its API processes."""

    def __init__(self, settings: Settings, token: str, secret: bytes) -> None:
        self._settings = settings
        self._token = token
        self._links_bus = None if settings.redis_url else LinkBus()
        self.bus: EventBus = self._links_bus or RedisBus(
            settings.redis_url or "", settings.redis_prefix + "bus:"
        )
        incidents = SealedStore(
            settings.data_dir / "incidents",
            secret,
            SystemClock(),
            settings.incident_audio_retention_days,
        )
        self.media = MediaServer(settings, self.bus, incidents)
        self._links: set[Link] = set()
        self._state = ""
        self.name = f"{os.uname().nodename}:{os.getpid()}"
        self._key = token.encode()
        self._feeds: dict[str, set[tuple[str, int]]] = {}
        """Per room mixed here: the shards on other workers its audience payloads go to."""
        self._feed: asyncio.DatagramTransport | None = None
        self.feed_address = ""
        self.media.relay = self._relay

    async def run(self, host: str, port: int, stop: asyncio.Event) -> None:
        await self.bus.start()
        await self.media.start()
        server = await asyncio.start_server(self._accept, host, port, limit=MAX_LINE)
        bound = server.sockets[0].getsockname()
        loop = asyncio.get_running_loop()
        self._feed, _ = await loop.create_datagram_endpoint(
            lambda: _FeedProtocol(self), local_addr=(bound[0], 0)
        )
        fed = self._feed.get_extra_info("sockname")
        self.feed_address = f"{fed[0]}:{fed[1]}"
        # The one line on stdout: where to link to (townhall serve reads it).
        print(f"media worker listening on {bound[0]}:{bound[1]}", flush=True)
        logger.info("media worker %s listening on %s:%s", self.name, bound[0], bound[1])
        teller = asyncio.create_task(self._tell_state())
        try:
            await stop.wait()
        finally:
            teller.cancel()
            server.close()
            for link in list(self._links):
                link.close()
            await self.media.close()
            await self.bus.close()
            if self._feed is not None:
                self._feed.close()

    # --- links -----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            hello = json.loads(line) if line else {}
            token = hello.get("hello") if isinstance(hello, dict) else None
        except (TimeoutError, ValueError, ConnectionError):
            token = None
        if not isinstance(token, str) or not hmac.compare_digest(token, self._token):
            writer.close()
            return
        hello = {"worker": self.name, "feed": self.feed_address}
        writer.write(json.dumps(hello).encode() + b"\n")
        link = Link(reader, writer, {}, "an API process")
        link._handlers.update(self._handlers(link))
        self._links.add(link)
        serving = asyncio.ensure_future(link.serve())
        if self._links_bus is not None and self._links_bus._link is None:
            with contextlib.suppress(LinkClosed):
                await self._links_bus.attach(link)
        link.tell("state", **self._snapshot())
        try:
            await serving
        finally:
            self._links.discard(link)
            if self._links_bus is not None and self._links_bus._link is link:
                self._links_bus.detach(link)
                for other in list(self._links):
                    with contextlib.suppress(LinkClosed):
                        await self._links_bus.attach(other)
                    break

    def _handlers(self, link: Link) -> dict[str, Any]:
        media = self.media

        async def connect(a: dict[str, Any]) -> Any:
            room_id = _text(a, "room_id")

            async def seed() -> StageState:
                state = await link.call("seed", room_id=room_id)
                return StageState(int(state["seq"]), bool(state["live"]), dict(state["stage"]))

            return await media.connect(
                room_id,
                int(a["user_id"]),
                _text(a, "username"),
                _text(a, "offer"),
                seed,
                auth_session=a.get("auth_session"),
                fed=bool(a.get("fed")),
            )

        async def feed_to(a: dict[str, Any]) -> Any:
            host, _, port = _text(a, "address").rpartition(":")
            self._feeds.setdefault(_text(a, "room_id"), set()).add((host, int(port)))

        async def drop_person(a: dict[str, Any]) -> Any:
            media.drop_person(_text(a, "room_id"), int(a["user_id"]), "connected elsewhere")

        async def add_candidate(a: dict[str, Any]) -> Any:
            await media.add_candidate(
                _text(a, "room_id"),
                int(a["user_id"]),
                _text(a, "session_id"),
                _text(a, "candidate"),
                a.get("mid"),
                a.get("index"),
            )

        async def hang_up(a: dict[str, Any]) -> Any:
            await media.hang_up(_text(a, "room_id"), int(a["user_id"]), _text(a, "session_id"))

        async def end(a: dict[str, Any]) -> Any:
            users, sessions = a.get("users"), a.get("auth_sessions")
            media.end(
                Which(
                    frozenset(users) if users is not None else None,
                    frozenset(sessions) if sessions is not None else None,
                ),
                str(a.get("why", "")),
            )

        async def message(a: dict[str, Any]) -> Any:
            if self._links_bus is not None:
                self._links_bus.deliver(_text(a, "channel"), _text(a, "payload"))

        async def ping(a: dict[str, Any]) -> Any:
            return "pong"

        return {
            "connect": connect,
            "add_candidate": add_candidate,
            "hang_up": hang_up,
            "end": end,
            "message": message,
            "ping": ping,
            "feed_to": feed_to,
            "drop_person": drop_person,
        }

    # --- the audience across workers --------------------------------------------------------

    def _relay(self, room_id: str, payload: bytes, samples: int) -> None:
        """Send a room's audience payload to its shards: one datagram each."""
        targets = self._feeds.get(room_id)
        if not targets or self._feed is None:
            return
        rid = room_id.encode()
        body = b"".join((bytes((len(rid),)), rid, struct.pack("!H", samples), payload))
        datagram = hmac.digest(self._key, body, "sha256")[:TAG] + body
        for target in targets:
            self._feed.sendto(datagram, target)

    def received(self, datagram: bytes) -> None:
        """An audience payload from a room's mixing worker."""
        tag, body = datagram[:TAG], datagram[TAG:]
        if len(body) < 4 or not hmac.compare_digest(
            tag, hmac.digest(self._key, body, "sha256")[:TAG]
        ):
            return
        n = body[0]
        room_id = body[1 : 1 + n].decode(errors="replace")
        (samples,) = struct.unpack_from("!H", body, 1 + n)
        self.media.feed(room_id, body[3 + n :], samples)

    # --- state -----------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {
            "present": {room: sorted(users) for room, users in self.media.present().items()},
            "connections": [
                [c.room_id, c.user_id, c.session_id, c.auth_session]
                for c in self.media.connections()
            ],
        }

    async def _tell_state(self) -> None:
        while True:
            await asyncio.sleep(STATE_SECONDS)
            snapshot = self._snapshot()
            text = json.dumps(snapshot, sort_keys=True)
            if text != self._state:
                self._state = text
                for link in list(self._links):
                    link.tell("state", **snapshot)


class _FeedProtocol(asyncio.DatagramProtocol):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._worker.received(data)


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise InvalidInput("invalid_input", f"{name} is missing.")
    return value


def spawned_settings() -> Settings | None:
    """The settings ``townhall serve`` gave a worker it started, if it started this one."""
    text = os.environ.pop(SETTINGS_ENV, None)
    return Settings.model_validate_json(text) if text else None


def run(settings: Settings, listen: str, token: str, secret: bytes, watch_stdin: bool) -> None:
    """Run a worker until SIGTERM or SIGINT (or, started by ``serve``, until its parent
    goes: its stdin closes)."""
    host, _, port = listen.rpartition(":")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if watch_stdin:
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

            async def parent_gone() -> None:
                await reader.read()
                stop.set()

            watcher = asyncio.create_task(parent_gone())
        worker = Worker(settings, token, secret)
        try:
            await worker.run(host.strip("[]") or "127.0.0.1", int(port or 0), stop)
        finally:
            if watch_stdin:
                watcher.cancel()

    collector.settle()
    asyncio.run(main())
