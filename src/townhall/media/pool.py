"""Media in worker processes: the ``MediaBackend`` of an API process whose audio is in
media workers (``media.worker``), started by ``serve`` or run with ``townhall media``.

A room's audio lives on one worker, its *home*, recorded in the database (``media_rooms``)
so every API process sends the room's offers, candidates and hang-ups to the same worker.
A room without a home gets the live worker with the fewest connections; the row is written
with INSERT .. ON CONFLICT DO NOTHING and read back, so of two API processes placing a room
at once, both end up on the one that won. A home is moved only by compare-and-set on the
worker it had.

A worker whose link closes, or that stops answering pings, is *lost*: each of its rooms is
moved to the least loaded live worker and the room is told ``audio.reconnect``, by the one
API process whose compare-and-set moved it; clients make a new connection, which goes to
the new home, with their role and mute state untouched (they live in the control plane).
A worker this process started is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from townhall.bus import EventBus, channels
from townhall.clock import Clock
from townhall.config import Settings
from townhall.errors import ConfigError, NotFound, Unavailable
from townhall.media import turn
from townhall.media.backend import Connection, Seed, Which
from townhall.media.link import Link, LinkClosed, open_link, worker_token
from townhall.media.sealed import SealedStore
from townhall.media.worker import SETTINGS_ENV
from townhall.storage import media as homes
from townhall.storage.db import Database

logger = logging.getLogger(__name__)

PINGS_MISSED = 10
"""A worker that answers no ping for this many intervals is lost: long enough for a busy
worker (thousands of DTLS handshakes at once) not to be taken for a dead one; a killed
worker's link closes at once anyway."""
FRESH_SECONDS = 5.0
"""How long a just-answered connection counts as its owner's sign of life by itself (the
workers tell who is connected every 200 ms)."""
START_SECONDS = 120.0
"""How long a worker may take to start (the first start builds the native loop)."""


@dataclass(eq=False)
class WorkerState:
    """One media worker as this API process sees it."""

    address: str
    link: Link | None = None
    process: asyncio.subprocess.Process | None = None
    """Set when this process started it."""
    present: dict[str, set[int]] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    up: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False
    feed: str = ""
    """Where its UDP socket takes audience payloads for the rooms it is a shard of."""
    forwards: dict[str, Callable[[str, str], None]] = field(default_factory=dict)
    """Bus channels forwarded to it (a worker without Redis), with their handlers."""

    @property
    def alive(self) -> bool:
        return self.up.is_set() and not self.lost

    @property
    def load(self) -> int:
        return len(self.connections)


class WorkerPool:
    """A ``MediaBackend`` whose rooms' audio is in media worker processes."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        db: Database,
        incidents: SealedStore,
        clock: Clock,
        secret: bytes,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._db = db
        self._clock = clock
        self.incidents = incidents
        self._token = worker_token(secret)
        self._workers: dict[str, WorkerState] = {}
        self._seeds: dict[str, Seed] = {}
        self._held: dict[str, str] = {}
        self._fresh: dict[str, tuple[str, int, float]] = {}
        """Connections just answered: present for ``FRESH_SECONDS`` whatever workers say."""
        """Connection id -> the worker this process placed it on."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # --- workers ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start this process's workers and link to them and to the configured ones; the
        first start of a worker that cannot run (a changed aiortc, say) fails here."""
        await asyncio.gather(
            *(self._start_local() for _ in range(self._settings.media_worker_count))
        )
        for address in self._settings.media_worker_addresses:
            self._adopt(address)
        configured = [self._workers[a] for a in self._settings.media_worker_addresses]
        if configured:
            waits = [asyncio.ensure_future(w.up.wait()) for w in configured]
            await asyncio.wait(waits, timeout=5.0)
            for wait in waits:
                wait.cancel()

    async def _start_local(self) -> WorkerState:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "townhall",
            "media",
            "--spawned",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, SETTINGS_ENV: _worker_settings(self._settings)},
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        except TimeoutError:
            line = b""
        text = line.decode(errors="replace").strip()
        if not text.startswith("media worker listening on "):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            code = await process.wait()
            raise ConfigError(
                f"a media worker did not start (exit code {code}); its output above says why"
            )
        state = WorkerState(text.rsplit(" ", 1)[1], process=process)
        self._workers[state.address] = state
        self._spawn(self._keep(state))
        self._spawn(self._supervise(state))
        await asyncio.wait_for(state.up.wait(), START_SECONDS)
        logger.info("media worker %s started (pid %s)", state.address, process.pid)
        return state

    def _adopt(self, address: str) -> WorkerState:
        """Follow a worker this process did not start (configured, or another API
        process's: a room's home)."""
        state = self._workers.get(address)
        if state is None:
            state = self._workers[address] = WorkerState(address)
            self._spawn(self._keep(state))
        return state

    async def _supervise(self, state: WorkerState) -> None:
        assert state.process is not None
        code = await state.process.wait()
        if self._closing:
            return
        logger.warning("media worker %s exited (code %s): starting another", state.address, code)
        if state.link is not None:
            state.link.close()
        await asyncio.sleep(1.0)
        while not self._closing:
            try:
                await self._start_local()
                return
            except (ConfigError, TimeoutError) as exc:
                logger.error("media: %s", exc)
                await asyncio.sleep(5.0)

    async def _keep(self, state: WorkerState) -> None:
        """Hold the link to a worker, and link again after it drops (unless this process
        started the worker: a new one replaces it)."""
        host, _, port = state.address.rpartition(":")
        delay = 0.5
        while not self._closing:
            try:
                link, hello = await open_link(host, int(port), self._token, self._handlers(state))
            except (OSError, TimeoutError, LinkClosed, ValueError):
                if state.process is not None and state.process.returncode is not None:
                    return
                if state.up.is_set() or not state.lost:
                    await self._lose(state)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            state.link, state.lost = link, False
            state.feed = str(hello.get("feed", ""))
            state.up.set()
            pinger = asyncio.ensure_future(self._ping(state, link))
            try:
                await link.serve()
            finally:
                pinger.cancel()
            if self._closing:
                return
            logger.warning("media: the link to worker %s closed", state.address)
            await self._lose(state)
            if state.process is not None and state.process.returncode is not None:
                return  # _supervise starts another

    async def _ping(self, state: WorkerState, link: Link) -> None:
        every = self._settings.media_worker_ping_seconds
        while True:
            await asyncio.sleep(every)
            try:
                await link.call("ping", within=PINGS_MISSED * every)
            except LinkClosed:
                logger.warning("media: worker %s stopped answering", state.address)
                link.close()
                return

    async def _lose(self, state: WorkerState) -> None:
        """The worker is gone: move its rooms to live workers and tell their people."""
        state.up.clear()
        state.lost = True
        held: dict[str, list[str]] = {}
        for c in state.connections:
            held.setdefault(c.room_id, []).append(c.session_id)
        state.present, state.connections = {}, []
        for channel, handler in list(state.forwards.items()):
            await self._bus.unsubscribe(channel, handler)
        state.forwards.clear()
        if self._closing:
            return
        async with self._db.transaction() as tx:
            rooms = await homes.rooms_on(tx, state.address)
        for room_id in rooms:
            held.pop(room_id, None)
            await self._move(room_id, state.address, self._least_loaded())
        # Rooms mixed elsewhere that it was a fan-out shard of: its listeners connect again.
        for room_id, sessions in held.items():
            await self._bus.publish(
                channels.levels(room_id), channels.reconnect_event(room_id, sessions)
            )

    def _least_loaded(self, besides: WorkerState | None = None) -> WorkerState | None:
        """The live worker with the fewest connections (of two as loaded, not ``besides``)."""
        live = [w for w in self._workers.values() if w.alive]
        return min(live, key=lambda w: (w.load, w is besides)) if live else None

    async def _move(self, room_id: str, old: str, new: WorkerState | None) -> None:
        async with self._db.transaction() as tx:
            moved = await homes.move(
                tx, room_id, old, new.address if new else None, self._clock.now()
            )
        if moved:
            logger.info(
                "media: room %s's audio moves from %s to %s",
                room_id,
                old,
                new.address if new else "the next offer",
            )
            await self._bus.publish(channels.levels(room_id), channels.reconnect_event(room_id))

    async def _home(self, room_id: str, place: bool = True) -> WorkerState | None:
        """The live worker that holds the room's audio, placing or moving it if need be.
        With ``place`` false a room that has no home is not given one (None): a candidate
        or a hang-up names a connection, which a room without audio has none of, and the
        room may not even exist (``media_rooms`` refers to ``rooms``)."""
        for _ in range(3):
            async with self._db.transaction() as tx:
                address = await homes.home_of(tx, room_id)
            if address is None and not place:
                return None
            if address is not None:
                state = self._adopt(address)
                if not state.alive and not state.lost:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state.up.wait(), 2.0)
                if state.alive:
                    return state
            target = self._least_loaded()
            if target is None:
                raise Unavailable("media_unavailable", "Audio is not available right now.")
            if address is None:
                async with self._db.transaction() as tx:
                    await homes.claim(tx, room_id, target.address, self._clock.now())
            else:
                await self._move(room_id, address, target)
        raise Unavailable("media_unavailable", "Audio is not available right now.")

    def _handlers(
        self, state: WorkerState
    ) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        async def seed(a: dict[str, Any]) -> Any:
            read = self._seeds.get(str(a.get("room_id")))
            if read is None:
                raise Unavailable("media_unavailable", "No offer for that room came this way.")
            stage = await read()
            return {"seq": stage.seq, "live": stage.live, "stage": stage.stage}

        async def subscribe(a: dict[str, Any]) -> Any:
            channel = str(a["channel"])
            if channel in state.forwards:
                return None
            link = state.link

            def forward(channel: str, payload: str) -> None:
                if link is not None:
                    link.tell("message", channel=channel, payload=payload)

            state.forwards[channel] = forward
            await self._bus.subscribe(channel, forward)
            return None

        async def unsubscribe(a: dict[str, Any]) -> Any:
            handler = state.forwards.pop(str(a["channel"]), None)
            if handler is not None:
                await self._bus.unsubscribe(str(a["channel"]), handler)

        async def publish(a: dict[str, Any]) -> Any:
            await self._bus.publish(str(a["channel"]), str(a["payload"]))

        async def told_state(a: dict[str, Any]) -> Any:
            state.present = {room: set(users) for room, users in a["present"].items()}
            state.connections = [Connection(*c) for c in a["connections"]]
            # Forget where this process placed connections the worker no longer holds.
            held = {c.session_id for c in state.connections}
            for session, address in list(self._held.items()):
                if address == state.address and session not in held and session not in self._fresh:
                    del self._held[session]

        return {
            "seed": seed,
            "subscribe": subscribe,
            "unsubscribe": unsubscribe,
            "publish": publish,
            "state": told_state,
        }

    # --- MediaBackend ----------------------------------------------------------------------

    async def connect(
        self,
        room_id: str,
        user_id: int,
        username: str,
        offer: str,
        seed: Seed,
        auth_session: int | None = None,
    ) -> dict[str, str]:
        self._seeds[room_id] = seed
        home = await self._home(room_id)
        assert home is not None  # placed
        worker = home
        if receive_only(offer):
            # A listener: to the least loaded worker, which the room's mix then feeds.
            shard = self._least_loaded(besides=home)
            if shard is not None and shard is not home and shard.feed:
                worker = shard
                await self._call(home, "feed_to", room_id=room_id, address=shard.feed)
        answer: dict[str, str] = await self._call(
            worker,
            "connect",
            room_id=room_id,
            user_id=user_id,
            username=username,
            offer=offer,
            auth_session=auth_session,
            fed=worker is not home,
        )
        self._held[answer["session"]] = worker.address
        # Counted until the worker's next word on its connections replaces the list.
        worker.connections.append(Connection(room_id, user_id, answer["session"], auth_session))
        # An offer is a sign of life: present until the worker can say the connection works.
        self._fresh[answer["session"]] = (room_id, user_id, time.monotonic() + FRESH_SECONDS)
        # The new connection replaces the person's others in the room, wherever they are.
        for other in self._workers.values():
            if other is not worker and other.alive and other.link is not None:
                other.link.tell("drop_person", room_id=room_id, user_id=user_id)
        return answer

    def _holders(self, session_id: str, home: WorkerState | None) -> list[WorkerState]:
        """The workers that may hold a connection, the likeliest first: the one this process
        placed it on or the workers say hold it, then the room's home, then every other live
        worker (another API process placed it, and the workers have not said so yet). None
        at all when the room has no audio home: there is no such connection."""
        if home is None:
            return []
        address = self._held.get(session_id)
        if address is None:
            for worker in self._workers.values():
                if any(c.session_id == session_id for c in worker.connections):
                    address = worker.address
                    break
        holder = self._workers.get(address) if address is not None else None
        order = [holder, home, *self._workers.values()]
        return list({id(w): w for w in order if w is not None and w.alive}.values())

    async def _on_holder(self, room_id: str, session_id: str, method: str, **args: Any) -> None:
        """Call ``method`` on the worker holding the connection, asking each that may hold
        it in turn until one knows it."""
        for worker in self._holders(session_id, await self._home(room_id, place=False)):
            try:
                await self._call(worker, method, room_id=room_id, session_id=session_id, **args)
            except NotFound:
                continue
            self._held[session_id] = worker.address
            return
        raise NotFound("media_session_not_found", "There is no such audio connection.")

    async def add_candidate(
        self,
        room_id: str,
        user_id: int,
        session_id: str,
        candidate: str,
        mid: str | None,
        index: int | None,
    ) -> None:
        await self._on_holder(
            room_id,
            session_id,
            "add_candidate",
            user_id=user_id,
            candidate=candidate,
            mid=mid,
            index=index,
        )

    async def hang_up(self, room_id: str, user_id: int, session_id: str) -> None:
        await self._on_holder(room_id, session_id, "hang_up", user_id=user_id)
        self._held.pop(session_id, None)

    async def _call(self, worker: WorkerState, method: str, **args: Any) -> Any:
        link = worker.link
        try:
            if link is None:
                raise LinkClosed(worker.address)
            return await link.call(method, **args)
        except LinkClosed:
            raise Unavailable(
                "media_unavailable", "The room's audio moved; connect again."
            ) from None

    def present(self) -> dict[str, set[int]]:
        merged: dict[str, set[int]] = {}
        now = time.monotonic()
        for session, (room, user, until) in list(self._fresh.items()):
            if until < now:
                del self._fresh[session]
            else:
                merged.setdefault(room, set()).add(user)
        for worker in self._workers.values():
            for room, users in worker.present.items():
                merged.setdefault(room, set()).update(users)
        return merged

    def connections(self) -> list[Connection]:
        return [c for w in self._workers.values() for c in w.connections]

    def end(self, which: Which, why: str) -> None:
        users = sorted(which.users) if which.users is not None else None
        sessions = sorted(which.auth_sessions) if which.auth_sessions is not None else None
        for worker in self._workers.values():
            if worker.alive and worker.link is not None:
                worker.link.tell("end", users=users, auth_sessions=sessions, why=why)

    def ice_servers(self, turn_for: str | None) -> dict[str, Any]:
        return turn.ice_config(self._settings, self._clock.now(), turn_for)

    async def sweep_incidents(self) -> None:
        await self.incidents.sweep()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        local = [w.process for w in self._workers.values() if w.process is not None]
        for worker in self._workers.values():
            if worker.link is not None:
                worker.link.close()
        for process in local:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        for process in local:
            try:
                await asyncio.wait_for(process.wait(), 10.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.incidents.close()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def workers(self) -> dict[str, int | None]:
        """Every live worker's address, with its process id when this process started it."""
        return {
            w.address: w.process.pid if w.process is not None else None
            for w in self._workers.values()
            if w.alive
        }

    def holders(self) -> dict[str, str]:
        """Connection id -> the address of the worker holding it, as the workers say."""
        return {c.session_id: w.address for w in self._workers.values() for c in w.connections}


def receive_only(offer: str) -> bool:
    """Whether an offer only receives audio (a listener's)."""
    lines = {line.strip() for line in offer.splitlines()}
    return "a=recvonly" in lines and not lines & {"a=sendrecv", "a=sendonly"}


def _worker_settings(settings: Settings) -> str:
    """The settings a started worker runs with, secrets included (through its environment,
    never a file or a log)."""
    data = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    data["media_ice_servers"] = [
        {**s.model_dump(mode="json"), "credential": s.credential.get_secret_value()}
        if s.credential is not None
        else s.model_dump(mode="json")
        for s in settings.media_ice_servers
    ]
    data["media_workers"] = 0
    data["media_worker_addresses"] = []
    return json.dumps(data)
