"""One client socket: its bounded send queue and writer, heartbeat, commands and room streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from townhall.api.routes.rooms import MemberOut, snapshot_out
from townhall.api.views import as_json
from townhall.api.ws import commands, protocol
from townhall.api.ws.gateway import CLOSE_RESTART, CLOSE_TIMEOUT, Gateway
from townhall.api.ws.limits import MessageGate
from townhall.api.ws.standing import SocketStandings
from townhall.bus import channels
from townhall.domain.rooms.events import event_payload
from townhall.domain.rooms.service import Rooms
from townhall.domain.rooms.views import MemberView, RoomSnapshot
from townhall.errors import Forbidden, RateLimited, TownhallError
from townhall.storage.models import User

logger = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 4008
CLOSE_SILENT = 4000
WAITING_COMMANDS = 64
"""Commands a socket may have waiting behind the one that runs; past it they are refused."""
MEMBERS_KEPT = 10_000
"""Members' JSON text kept for snapshots (``_member_text``): a few MB at most."""
LISTS_KEPT = 64
"""Lists of members' JSON text kept for snapshots (``_members_text``)."""


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        user: User,
        session_id: int,
        gateway: Gateway,
        standings: SocketStandings,
        rooms: Rooms,
        queue_size: int,
        heartbeat: float,
        gate: MessageGate,
    ) -> None:
        self.ws = websocket
        self.user = user
        """The person as they are now: replaced when their standing changes."""
        self.user_id = user.id
        self.session_id = session_id
        self._standings = standings
        self._gate = gate
        self.username = user.username
        self._gateway = gateway
        self.rooms = rooms
        # None: the end of a drain, put last (``_close_after_queue``).
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=queue_size)
        self._queue_size = queue_size
        self._heartbeat = heartbeat
        self.streams: dict[str, protocol.RoomStream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: asyncio.Queue[str] = asyncio.Queue(maxsize=WAITING_COMMANDS)
        self._running: asyncio.Future[None] | None = None
        self._closing = asyncio.Event()
        self.close_code: int | None = None
        self._draining = False
        self._flushed = False
        self.ended = asyncio.Event()
        """Set once the socket is closed and its commands are done."""
        self._heard = asyncio.get_running_loop().time()

    # --- sending (never blocks) -----------------------------------------------------------

    def send(self, text: str) -> None:
        """Queue ``text``; a client whose queue is full is too slow and is let go."""
        if self._closing.is_set() or self._flushed:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            logger.info("closing the socket of user %s: too slow", self.user_id)
            self._gateway.slow_closed += 1
            self.close(CLOSE_TOO_SLOW)

    def close(self, code: int) -> None:
        if not self._closing.is_set():
            self.close_code = code
            self._closing.set()

    def drain(self) -> None:
        """The process is shutting down: refuse new commands (``server_draining``), finish
        the ones already taken, send what is queued, then close with ``CLOSE_RESTART``."""
        if self._draining:
            return
        self._draining = True
        if not self._busy():
            self._close_after_queue()

    def _busy(self) -> bool:
        return not self._waiting.empty() or (self._running is not None and not self._running.done())

    def _close_after_queue(self) -> None:
        """Close with ``CLOSE_RESTART`` once the writer has sent everything queued so far."""
        if self._flushed or self._closing.is_set():
            return
        self.close_code = CLOSE_RESTART
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self._closing.set()  # too far behind to wait for: it resumes from the log
        self._flushed = True

    # --- events from the gateway (never await) --------------------------------------------

    def on_room_event(self, event: protocol.RoomEvent) -> None:
        stream = self.streams.get(event.room)
        if stream is not None:
            self._deliver(stream, stream.offer(event))

    def on_levels(self, room: str, text: str, urgent: bool = False) -> None:
        """Who is speaking: unnumbered, and skipped rather than queued behind a backlog
        (``urgent``, the audio moving to another worker, is queued whatever the backlog)."""
        if room in self.streams and (urgent or self._queue.qsize() < self._queue_size // 2):
            self.send(text)

    def on_digest(self, room: str, roles: frozenset[str], text: str) -> None:
        """An audience digest: current state, for the part of the room it is meant for."""
        stream = self.streams.get(room)
        if stream is not None and stream.role in roles and stream.last_seq is not None:
            self.send(text)

    def on_notice(self, notice: channels.Notice) -> None:
        self.send(notice.text)
        if notice.name in ("room.removed", "room.left"):
            room = notice.data.get("room")
            if isinstance(room, str):
                self.drop(room)

    def _deliver(self, stream: protocol.RoomStream, out: protocol.Deliveries) -> None:
        for text in out.texts:
            self.send(text)
        if out.ended:
            self.drop(stream.room)
        elif out.fetch_after is not None:
            self._spawn(self._fetch(stream, out.fetch_after))
        if len(stream.pending) > self._queue_size:
            self.close(CLOSE_TOO_SLOW)

    def drop(self, room: str) -> None:
        if self.streams.pop(room, None) is not None:
            self._gateway.unfollow(room, self)

    def member_rooms(self) -> list[str]:
        return [room for room, s in self.streams.items() if s.role is not None]

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, stream: protocol.RoomStream, after: int) -> None:
        """Fill a gap in a live stream from the room's log (or start over from a snapshot)."""
        try:
            events = await self.rooms.events_after(self.user, stream.room, after)
            if events is None:
                snapshot = await self.rooms.snapshot(self.user, stream.room)
                if self.streams.get(stream.room) is not stream:
                    return
                self.send(protocol.resync(stream.room, _snapshot_text(snapshot)))
                out = stream.restart(snapshot.seq, snapshot.me.role if snapshot.me else None)
            else:
                if self.streams.get(stream.room) is not stream:
                    return
                out = stream.caught_up(_parsed(events))
        except TownhallError as exc:
            logger.info("cannot catch up on room %s: %s", stream.room, exc.code)
            self.drop(stream.room)
            return
        self._deliver(stream, out)

    # --- the socket's life ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the (accepted) socket until either side closes it."""
        self._gateway.connections.add(self)
        self._standings.add(self)
        if self._gateway.draining:
            self.drain()  # opened while the process began to stop
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self._gateway.attach(channels.user(self.user_id), self)
            tasks = [
                asyncio.create_task(self._write()),
                asyncio.create_task(self._read()),
                asyncio.create_task(self._work()),
                asyncio.create_task(self._beat()),
                asyncio.create_task(self._closing.wait()),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._closing.set()
            for task in [*tasks, *self._tasks]:
                task.cancel()
            await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
            if self._running is not None and not self._running.done():
                # The command under way finishes (or times out) before its streams go.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._running, CLOSE_TIMEOUT)
            self._gateway.connections.discard(self)
            self._standings.discard(self)
            self._gateway.detach(channels.user(self.user_id), self)
            for room in list(self.streams):
                self.drop(room)
        try:
            if self.close_code is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(self.close_code), CLOSE_TIMEOUT)
        finally:
            self.ended.set()

    async def _write(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while (text := await self._queue.get()) is not None:
                await self.ws.send_text(text)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._heartbeat)
            if loop.time() - self._heard > 2 * self._heartbeat:
                self.close(CLOSE_SILENT)
                return
            self.send(protocol.PING)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            self._heard = loop.time()
            text = message.get("text")
            size = len(text) if text is not None else len(message.get("bytes") or b"")
            refused = self._gate.check(size, self._heard)
            if refused is not None:
                if refused.close is not None:
                    self.close(refused.close)
                    return
                self.send(
                    protocol.error(
                        protocol.message_id(text),
                        "rate_limited",
                        "Too many messages; slow down.",
                        retry_after=round(refused.retry_after, 3),
                    )
                )
                continue
            if text == protocol.PONG:
                continue
            if text is None:
                self.send(protocol.error(None, "invalid_message", "Messages are JSON text."))
                continue
            if self._draining:
                # Not run: the client sends it again once connected elsewhere.
                self.send(
                    protocol.error(
                        protocol.message_id(text),
                        "server_draining",
                        "This server is restarting; connect again and resend.",
                    )
                )
                continue
            try:
                self._waiting.put_nowait(text)
            except asyncio.QueueFull:
                self.send(
                    protocol.error(
                        protocol.message_id(text),
                        "rate_limited",
                        "Too many commands are waiting; wait for their answers.",
                        retry_after=1.0,
                    )
                )

    async def _work(self) -> None:
        """Run the socket's commands one at a time, in the order they came. Reading goes on
        meanwhile, so a client waiting on a slow command (a join in a storm) still answers
        the heartbeat; the command under way is shielded from the socket's end."""
        while True:
            text = await self._waiting.get()
            self._running = asyncio.ensure_future(self._handle(text))
            await asyncio.shield(self._running)
            if self._draining and not self._busy():
                self._close_after_queue()

    async def _handle(self, text: str) -> None:
        try:
            message = protocol.parse(text, commands.SCHEMAS)
        except protocol.ProtocolError as exc:
            self.send(protocol.error(exc.id, "invalid_message", exc.message, **exc.details))
            return
        command = commands.REGISTRY[message.type]
        if not command.replies:
            return
        try:
            await self._standings.check(self)
            await command.handler(self, message)
        except TownhallError as exc:
            details = dict(exc.details)  # e.g. the fields of invalid_arguments, as over HTTP
            if isinstance(exc, RateLimited):
                details["retry_after"] = exc.retry_after
            self.send(protocol.error(message.id, exc.code, exc.message, **details))
        except Exception:
            logger.exception("socket command %s failed", message.type)
            self.send(protocol.error(message.id, "internal_error", "Something went wrong."))

    # --- commands -------------------------------------------------------------------------

    def begin(
        self, id: int, stream: protocol.RoomStream, snapshot: RoomSnapshot, missed: list[Any]
    ) -> None:
        """Answer ``room.create`` and start its stream with the events already logged."""
        # Never await between sending the result and starting the stream.
        self.send(_snapshot_result(id, snapshot))
        shown, out = stream.begin(snapshot.seq, "moderator", _parsed(missed))
        for event in shown:
            self.send(event.text)
        self._deliver(stream, out)

    async def open(self, room: str) -> protocol.RoomStream:
        """A new stream for ``room``, already receiving (into its pending list) from the bus."""
        self.drop(room)
        stream = protocol.RoomStream(room, self.username)
        self.streams[room] = stream
        await self._gateway.follow(room, self)
        return stream

    def start(self, id: int, stream: protocol.RoomStream, snapshot: RoomSnapshot) -> None:
        # Never await between sending the result and starting the stream: live events
        # must follow the state they build on.
        if self.streams.get(stream.room) is not stream:
            self.send(_snapshot_result(id, snapshot))
            return
        self.send(_snapshot_result(id, snapshot))
        if snapshot.status != "live":
            self.drop(stream.room)
            return
        _, out = stream.begin(snapshot.seq, snapshot.me.role if snapshot.me else None, [])
        self._deliver(stream, out)

    async def subscribe(self, id: int, room: str, after: int | None) -> None:
        stream = await self.open(room)
        try:
            missed: list[protocol.RoomEvent] | None = None
            listeners = 0
            if after is not None:
                # Not in the room any more: the snapshot says why (ended) or refuses.
                role = await self.rooms.role_of(self.user, room)
                if role is not None:
                    found = await self.rooms.events_after(self.user, room, after)
                    missed = None if found is None else _parsed(found)
                    listeners = await self.rooms.listeners(room)
            if missed is None:
                snapshot = await self.rooms.snapshot(self.user, room)
                if snapshot.me is None and snapshot.status == "live":
                    raise Forbidden("not_in_room", "Join the room first.")
        except BaseException:
            self.drop(room)
            raise
        if missed is None:
            self.start(id, stream, snapshot)
            return
        if self.streams.get(room) is not stream:
            self.send(protocol.result(id, {"events": []}))
            return
        shown, out = stream.begin(after or 0, role, missed)
        self.send(protocol.result(id, {"events": [_as_json(e) for e in shown]}))
        if stream.role is not None:
            # The audience is state: a resumed client gets it now, never the digests missed.
            self.send(channels.digest_event(room, [stream.role], resumed_digest(listeners)))
        self._deliver(stream, out)


def resumed_digest(listeners: int) -> dict[str, Any]:
    """The digest a resumed stream starts with: the count, and no lists (read ``/audience``)."""
    return {"listeners": listeners, "members": [], "left": [], "complete": False}


def _snapshot_result(id: int, snapshot: RoomSnapshot) -> str:
    return protocol.result_text(id, f'{{"snapshot":{_snapshot_text(snapshot)}}}')


def _snapshot_text(snapshot: RoomSnapshot) -> str:
    """The snapshot as ``GET /api/rooms/{id}`` answers it, in JSON text. A room's stage and
    first listeners are the same view objects in every join answer while the room fills up
    (``domain/rooms/shared.py``): each one's text is made once and the lists are joined
    from them."""
    body = as_json(snapshot_out(replace(snapshot, stage=(), audience=())))
    del body["stage"], body["audience"]
    head = protocol.dump(body)
    stage, audience = _members_text(snapshot.stage), _members_text(snapshot.audience)
    # The head is an object with other fields: its closing brace makes room for the lists.
    return f'{head[:-1]},"stage":{stage},"audience":{audience}}}'


def _members_text(views: tuple[MemberView, ...]) -> str:
    kept = _list_texts.get(id(views))
    if kept is not None and kept[0] is views:
        _list_texts.move_to_end(id(views))
        return kept[1]
    text = f"[{','.join(map(_member_text, views))}]"
    _list_texts[id(views)] = (views, text)
    if len(_list_texts) > LISTS_KEPT:
        _list_texts.popitem(last=False)
    return text


_list_texts: OrderedDict[int, tuple[tuple[MemberView, ...], str]] = OrderedDict()
"""A list of member views' JSON text by the tuple's identity (a room's shared stage and
first listeners are the same tuple in every join answer while they are kept), the oldest
dropped past ``LISTS_KEPT``."""


_member_texts: OrderedDict[int, tuple[MemberView, str]] = OrderedDict()
"""A member view's JSON text by the view object's identity (the view is held with it, so
its id is not reused), the least recently used dropped past ``MEMBERS_KEPT``."""


def _member_text(view: MemberView) -> str:
    kept = _member_texts.get(id(view))
    if kept is not None and kept[0] is view:
        _member_texts.move_to_end(id(view))
        return kept[1]
    text = protocol.dump(as_json(MemberOut.model_validate(view)))
    _member_texts[id(view)] = (view, text)
    if len(_member_texts) > MEMBERS_KEPT:
        _member_texts.popitem(last=False)
    return text


def _parsed(events: list[Any]) -> list[protocol.RoomEvent]:
    parsed = (protocol.read_event(event_payload(e)) for e in events)
    return [e for e in parsed if e is not None]


def _as_json(event: protocol.RoomEvent) -> dict[str, Any]:
    return dict(json.loads(event.text))
