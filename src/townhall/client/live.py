"""``Live``: one WebSocket to Townhall that answers pings, reconnects and resumes rooms.

Concurrency: one reader task owns the socket's incoming side and is the only code that
resolves pending requests and feeds the event queue; requests only send. After a drop the
reader reconnects (with backoff, trying each known API process in turn) and re-subscribes
every followed room with ``after=<last event number>`` before anything else is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from townhall.bus.channels import room as room_stream
from townhall.bus.channels import room_of
from townhall.client.errors import LiveClosed, LiveConnectionLost, TownhallAPIError
from townhall.client.streams import RoomStreams

logger = logging.getLogger(__name__)

Message = dict[str, Any]
OnReply = Callable[[Message], None]

# Close codes after which reconnecting would only be refused again.
FATAL_CLOSE_CODES = frozenset({1008, 4001, 4003, 4401, 4403})
FATAL_HANDSHAKE_STATUSES = frozenset({401, 403})
# The process is going away (a restart, a rolling deploy): reconnect at once, to another
# process first, and resume. 1001 is what a server that does not drain may send.
MOVE_CLOSE_CODES = frozenset({1001, 1012})
CLOSE_RESTART = 1012
"""A drained socket: every command it did not answer did not run."""
DRAINING = "server_draining"
"""A command refused because the process was draining: it did not run; send it again."""


class _NotRun(LiveConnectionLost):
    """The socket was drained (1012) before the answer: the command did not run."""


def ws_url(base_url: str) -> str:
    """``http(s)://host`` → ``ws(s)://host/api/ws``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/api/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/api/ws"
    return base + "/api/ws"


class Live:
    """A signed-in live connection. Use ``async with Live(urls, token) as live:``.

    ``request(type, **fields)`` sends one command and returns its result (or raises
    ``TownhallAPIError``); ``events()`` yields pushed events and notices in order, plus a
    ``{"type": "snapshot", ...}`` message whenever a subscription (re)starts from a snapshot
    and a ``{"type": "reconnected", "url": ...}`` message after each reconnection.
    """

    def __init__(
        self,
        urls: Sequence[str],
        token: str,
        *,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        reconnect_for: float = 60.0,
        max_backoff: float = 2.0,
    ) -> None:
        if not urls:
            raise ValueError("Live needs at least one server URL")
        self.urls = list(urls)
        self.url = self.urls[0]
        """The base URL of the API process currently connected to."""
        self.streams = RoomStreams()
        self.reconnects = 0
        self.resent = 0
        """Commands sent again because a restarting server had not run them."""
        self._token = token
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._reconnect_for = reconnect_for
        self._max_backoff = max_backoff
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._moved = asyncio.Event()
        """Set at each reconnection."""
        self._pending: dict[int, tuple[asyncio.Future[Message], OnReply | None]] = {}
        self._ids = itertools.count(1)
        self._inbox: asyncio.Queue[Message | BaseException] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._resumer: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: BaseException | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Live:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect to the first URL that answers; raises if none does."""
        self._ws = await self._connect_any(deadline=None)
        self._connected.set()
        self._reader = asyncio.create_task(self._read_forever(), name="townhall-live-reader")

    async def close(self) -> None:
        """Close the connection for good. Idempotent; safe to call from several tasks."""
        if self._closing:
            return
        self._closing = True
        self._connected.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._resumer is not None:
            self._resumer.cancel()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending(LiveClosed("the live connection was closed"))
        self._inbox.put_nowait(LiveClosed("the live connection was closed"))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def drop(self) -> None:
        """Close the socket as if the network failed, to exercise reconnection."""
        if self._ws is not None:
            await self._ws.close(code=4000, reason="client dropped the connection")

    # --- requests -----------------------------------------------------------------------------

    async def request(self, type_: str, **fields: Any) -> Any:
        """Send ``{"id", "type": type_, **fields}`` and return the result.

        Raises ``TownhallAPIError`` on a refusal, ``LiveConnectionLost`` if the socket
        dropped before the answer (the command may have run), ``LiveClosed`` after close.
        A command the server did not run because its process was going away (answered
        ``server_draining``, or unanswered on a socket closed with 1012) is sent again on the
        next socket.
        ``subscribe``, ``room.join`` and ``room.create`` start following the room (its
        snapshot or missed events go to ``events()`` first); ``unsubscribe`` and
        ``room.leave`` stop.
        """
        while True:
            # The socket it goes out on (None: between sockets, it waits for the next one).
            ws = self._ws if self._connected.is_set() else None
            try:
                reply = await self._roundtrip(type_, fields, self._tracking(type_, fields))
            except _NotRun:
                reply = {"success": False, "error": {"code": DRAINING}}
            if not reply.get("success") and _code(reply) == DRAINING:
                # It did not run: send it again once connected to another process.
                await self._next_socket(ws)
                self.resent += 1
                continue
            if not reply.get("success"):
                raise TownhallAPIError.from_body(None, {"error": reply.get("error")})
            return reply.get("result")

    async def _next_socket(self, ws: ClientConnection | None) -> None:
        """Wait until a socket other than ``ws`` is open (within ``reconnect_for``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_for
        while not self._closing and (self._ws is ws or not self._connected.is_set()):
            if loop.time() >= deadline:
                raise LiveConnectionLost("not reconnected")
            self._moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), deadline - loop.time())
        if self._closing:
            raise LiveClosed("the live connection was closed")

    async def subscribe(self, room: str, after: int | None = None) -> Any:
        """Follow a room's events (from ``after`` if given); the result has a snapshot or events."""
        fields: dict[str, Any] = {"room": room}
        if after is not None:
            fields["after"] = after
        return await self.request("subscribe", **fields)

    def _tracking(self, type_: str, fields: dict[str, Any]) -> OnReply | None:
        """What to do with the answer to a request that changes which rooms are followed.

        It runs in the reader, before any later message is read, so a room's snapshot is
        always handed over before the live events that build on it.
        """
        room = fields.get("room")
        if type_ in ("unsubscribe", "room.leave") and isinstance(room, str):

            def forget(reply: Message) -> None:
                if reply.get("success"):
                    self.streams.forget(room)

            return forget
        if type_ not in ("subscribe", "room.join", "room.create"):
            return None
        if isinstance(room, str):
            after = fields.get("after")
            self.streams.begin(room, after if isinstance(after, int) else None)

        def follow(reply: Message) -> None:
            if _code(reply) == DRAINING:
                return  # sent again on the next socket, which resumes the room anyway
            result = reply.get("result") if reply.get("success") else None
            if isinstance(result, dict):
                snapshot = result.get("snapshot")
                followed = room if isinstance(room, str) else None
                if followed is None and isinstance(snapshot, dict):
                    followed = snapshot.get("id")
                if isinstance(followed, str):
                    self._hand_over(self.streams.subscribed(followed, result))
            elif isinstance(room, str):
                self._hand_over(self.streams.failed(room))

        return follow

    async def _roundtrip(
        self, type_: str, fields: dict[str, Any], on_reply: OnReply | None = None
    ) -> Message:
        if self._closing:
            raise LiveClosed("the live connection was closed")
        try:
            await asyncio.wait_for(self._connected.wait(), self._reconnect_for)
        except TimeoutError:
            raise LiveConnectionLost("not connected") from None
        ws = self._ws
        if ws is None or self._closing:
            raise LiveClosed("the live connection was closed")
        request_id = next(self._ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, on_reply)
        try:
            await ws.send(json.dumps({"id": request_id, "type": type_, **fields}))
        except ConnectionClosed:
            if future.done():
                future.exception()  # the reader's verdict on it, the same as this one
            self._pending.pop(request_id, None)
            if ws.close_code == CLOSE_RESTART:
                raise _NotRun("the server restarted before the answer") from None
            raise LiveConnectionLost("the connection dropped before the answer") from None
        try:
            return await asyncio.wait_for(future, self._request_timeout)
        finally:
            self._pending.pop(request_id, None)

    # --- events -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Message]:
        """Pushed messages in order; ends when closed, raises ``LiveClosed`` if reconnecting
        failed for good."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, BaseException):
                self._inbox.put_nowait(item)  # every later reader ends too
                if self._failure is not None:
                    raise self._failure
                return
            yield item

    async def wait_for(self, match: Callable[[Message], bool], within: float = 10.0) -> Message:
        """The next pushed message for which ``match`` is true; earlier ones are discarded."""

        async def first() -> Message:
            async for message in self.events():
                if match(message):
                    return message
            raise LiveClosed("the live connection was closed")

        return await asyncio.wait_for(first(), within)

    def listeners(self, room: str) -> int | None:
        """How many listen in a followed room, as the server last told (None: not followed)."""
        return self.streams.listeners.get(room)

    def audience(self, room: str) -> list[Message]:
        """The listeners of a followed room known from its snapshot and digests, in the
        order they were learnt of; ``streams.stale`` says when someone may be missing."""
        return list(self.streams.audience.get(room, {}).values())

    def _hand_over(self, messages: list[Message]) -> None:
        for m in messages:
            self._inbox.put_nowait(m)

    # --- the reader ---------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        while not self._closing:
            ws = self._ws
            assert ws is not None
            code: int | None = None
            try:
                async for raw in ws:
                    await self._dispatch(ws, raw)
            except ConnectionClosed:
                pass
            code = ws.close_code
            self._connected.clear()
            self._fail_pending(
                _NotRun("the server restarted before the answer")
                if code == CLOSE_RESTART
                else LiveConnectionLost("the connection dropped before the answer")
            )
            if self._closing:
                return
            if code in FATAL_CLOSE_CODES:
                self._give_up(LiveClosed(f"the server closed the connection ({code})"))
                return
            logger.info("live connection to %s closed (%s); reconnecting", self.url, code)
            if code in MOVE_CLOSE_CODES and len(self.urls) > 1:
                # That process is going away: the others first, it last.
                self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
            try:
                self._ws = await self._connect_any(
                    deadline=asyncio.get_running_loop().time() + self._reconnect_for
                )
            except (LiveClosed, TownhallAPIError) as exc:
                self._give_up(exc)
                return
            self.reconnects += 1
            self._connected.set()
            self._moved.set()
            self._hand_over([{"type": "reconnected", "url": self.url}])
            # Resuming needs this task to read the answers, so it runs beside it.
            self._resumer = asyncio.create_task(self._resume(), name="townhall-live-resume")

    async def _dispatch(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            logger.warning("ignoring a message that is not JSON")
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "result":
            entry = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if entry is not None:
                future, on_reply = entry
                if on_reply is not None:
                    on_reply(message)
                if not future.done():
                    future.set_result(message)
        elif kind == "ping":
            with contextlib.suppress(ConnectionClosed):
                await ws.send('{"type":"pong"}')
        elif kind == "event":
            self._hand_over(self.streams.event(message))
        elif kind == "snapshot":
            self._hand_over(self.streams.resynced(message))
        else:
            self._inbox.put_nowait(message)

    async def _resume(self) -> None:
        for room in self.streams.rooms():
            after = self.streams.resuming(room)
            fields = {"room": room, "after": after}
            try:
                reply = await self._roundtrip(
                    "subscribe", fields, self._tracking("subscribe", fields)
                )
            except (LiveConnectionLost, LiveClosed):
                return  # the reader reconnects again and resumes from the same numbers
            if _code(reply) == DRAINING:
                return  # this one is going away too: the next socket resumes
            if not reply.get("success"):
                self._hand_over(
                    [
                        {
                            "type": "resume_failed",
                            "stream": room_stream(room),
                            "error": reply.get("error"),
                        }
                    ]
                )

    async def _connect_any(self, deadline: float | None) -> ClientConnection:
        """Connect to the current URL, then the others in turn, backing off between rounds."""
        loop = asyncio.get_running_loop()
        start = self.urls.index(self.url) if self.url in self.urls else 0
        last: BaseException | None = None
        for attempt in itertools.count():
            url = self.urls[(start + attempt) % len(self.urls)]
            try:
                ws = await connect(
                    ws_url(url),
                    additional_headers={"Authorization": f"Bearer {self._token}"},
                    open_timeout=self._open_timeout,
                    max_size=2**22,
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in FATAL_HANDSHAKE_STATUSES:
                    raise TownhallAPIError(
                        status, "not_signed_in", "The server refused the token."
                    ) from None
                last = exc
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                last = exc
            else:
                self.url = url
                return ws
            if deadline is None and attempt + 1 >= len(self.urls):
                raise LiveClosed(f"no Townhall server answered: {last}")
            if deadline is not None and loop.time() >= deadline:
                raise LiveClosed(f"could not reconnect: {last}")
            if (attempt + 1) % len(self.urls) == 0:
                round_ = (attempt + 1) // len(self.urls)
                delay = min(self._max_backoff, 0.1 * 2**round_)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def _fail_pending(self, exc: BaseException) -> None:
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    def _give_up(self, exc: BaseException) -> None:
        logger.warning("live connection lost for good: %s", exc)
        self._failure = exc
        self._closing = True
        self._fail_pending(LiveClosed(str(exc)))
        self._inbox.put_nowait(exc)


def _code(reply: Message) -> str | None:
    error = reply.get("error")
    return error.get("code") if isinstance(error, dict) else None


__all__ = ["Live", "room_of", "ws_url"]
