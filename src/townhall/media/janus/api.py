"""A client of the Janus API over its WebSocket transport: one socket, one Janus session.

Townhall is Janus's only client: browsers never reach this API (it should listen on an
internal address only, and every request carries the ``api_secret``). One ``Connection``
per Janus instance holds one Janus session; every person's PeerConnection is a plugin
handle in it. Requests are matched to answers by transaction; a plugin request that
Janus answers later (``ack`` first) resolves with that later event. Whatever else Janus
says (``webrtcup``, ``hangup``, plugin events such as AudioBridge's ``talking``) goes to
``on_event`` with the handle it concerns, in the order Janus sent it.

Errors:

    JanusError      Janus, or its plugin, refused a request (``code``, ``reason``)
    └── Lost        the instance is gone: the socket closed, or it stopped answering
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

Event = Callable[[int, dict[str, Any]], None]
"""(handle id, the message) for everything Janus says unasked."""

KEEPALIVE_SECONDS = 20.0
"""Janus drops a session silent for its ``session_timeout`` (60 s by default)."""


class JanusError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class Lost(JanusError):
    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


class Connection:
    """The socket to one Janus instance and the session Townhall holds on it."""

    def __init__(
        self,
        url: str,
        api_secret: str | None,
        on_event: Event,
        timeout: float = 10.0,
        ping_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self._secret = api_secret
        self._on_event = on_event
        self._timeout = timeout
        self._ping = ping_seconds
        self._ws: ClientConnection | None = None
        self._session = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._later: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.lost = asyncio.Event()
        """Set once the instance is gone (or this connection was closed)."""
        self.why = ""

    async def open(self) -> None:
        """Connect and create the session; raises ``Lost`` when the instance cannot be had."""
        try:
            self._ws = await asyncio.wait_for(
                connect(
                    self.url,
                    subprotocols=["janus-protocol"],  # type: ignore[list-item]
                    ping_interval=self._ping,
                    ping_timeout=self._ping,
                    close_timeout=1,
                    max_size=2**22,
                ),
                self._timeout,
            )
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            raise Lost(f"cannot connect to {self.url}: {exc!r}") from None
        self._tasks.append(asyncio.create_task(self._read(), name="janus-reader"))
        created = await self._call({"janus": "create"})
        self._session = int(created["data"]["id"])
        self._tasks.append(asyncio.create_task(self._keepalive(), name="janus-keepalive"))

    async def info(self) -> dict[str, Any]:
        return await self._call({"janus": "info"})

    async def attach(self, plugin: str) -> int:
        answer = await self._call({"janus": "attach", "plugin": plugin})
        return int(answer["data"]["id"])

    async def detach(self, handle: int) -> None:
        with contextlib.suppress(JanusError):
            await self._call({"janus": "detach", "handle_id": handle})

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A plugin request: (the plugin's data, the JSEP that came with it). A plugin's
        own error (``error_code`` in its data) is raised as ``JanusError``."""
        request: dict[str, Any] = {"janus": "message", "handle_id": handle, "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        answer = await self._call(request)
        data = answer.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return data, answer.get("jsep")

    async def trickle(self, handle: int, candidate: dict[str, Any] | None) -> None:
        """A client's candidate for ``handle``'s PeerConnection; None: there are no more."""
        body: dict[str, Any] = {"janus": "trickle", "handle_id": handle}
        body["candidate"] = candidate if candidate is not None else {"completed": True}
        await self._call(body)

    async def close(self) -> None:
        """Destroy the session (its handles and their PeerConnections go) and disconnect."""
        if self._ws is not None and not self.lost.is_set() and self._session:
            with contextlib.suppress(JanusError):
                await self._call({"janus": "destroy"})
        self._lose("closed")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()

    # --- the wire ------------------------------------------------------------------------

    async def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.lost.is_set() or self._ws is None:
            raise Lost(self.why or "not connected")
        transaction = secrets.token_hex(8)
        request["transaction"] = transaction
        if self._session and request["janus"] not in ("create", "info"):
            request["session_id"] = self._session
        if self._secret:
            request["apisecret"] = self._secret
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        if request["janus"] == "message":
            self._later.add(transaction)
        try:
            await self._ws.send(json.dumps(request))
            answer = await asyncio.wait_for(future, self._timeout)
        except ConnectionClosed:
            self._lose("the socket closed")
            raise Lost(self.why) from None
        except TimeoutError:
            raise JanusError(
                0, f"no answer to {request['janus']} within {self._timeout} s"
            ) from None
        finally:
            self._pending.pop(transaction, None)
            self._later.discard(transaction)
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return answer

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for text in self._ws:
                self._receive(json.loads(text))
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("janus: reading from %s failed", self.url)
        self._lose("the socket closed")

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        transaction = message.get("transaction")
        future = self._pending.get(transaction) if isinstance(transaction, str) else None
        if future is not None and not future.done():
            if kind == "ack" and transaction in self._later:
                return  # a plugin message: its answer is the event that follows
            future.set_result(message)
            return
        sender = message.get("sender")
        if isinstance(sender, int):
            try:
                self._on_event(sender, message)
            except Exception:
                logger.exception("janus: handling %s from %s failed", kind, self.url)

    async def _keepalive(self) -> None:
        while not self.lost.is_set():
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await self._call({"janus": "keepalive"})
            except Lost:
                return
            except JanusError as exc:
                logger.warning("janus: keepalive to %s failed: %s", self.url, exc)

    def _lose(self, why: str) -> None:
        if self.lost.is_set():
            return
        self.why = why
        self.lost.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Lost(why))
