"""The link between an API process and a media worker: JSON lines over one TCP stream.

Either side may call the other (``call``: a request and its reply) or tell it something
(``tell``: no reply). Lines are read and handled in order, so what one side sends arrives
in the order it was sent: a bus message forwarded after a subscription was acknowledged
is never overtaken by it. A call's errors travel as the project's own (``townhall.errors``)
and are raised again on the caller's side.

The stream opens with the caller's ``{"hello": <token>}``, a secret both sides derive from
the instance secret (``worker_token``): nobody else on the network can drive a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from townhall import errors

logger = logging.getLogger(__name__)

MAX_LINE = 1 << 20
"""The longest line either side reads: an offer or an answer is at most a few tens of kB."""

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

ERRORS: dict[str, type[errors.TownhallError]] = {
    cls.__name__: cls
    for cls in (
        errors.InvalidInput,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.Gone,
        errors.Unavailable,
    )
}


class LinkClosed(ConnectionError):
    """The other side went away (or never answered)."""


def worker_token(secret: bytes) -> str:
    """What an API process shows a media worker: derived from the instance secret."""
    return hmac.new(secret, b"townhall media worker", hashlib.sha256).hexdigest()


class Link:
    """One side of a link; ``serve`` reads it until it closes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handlers: dict[str, Handler],
        name: str = "",
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._handlers = handlers
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = asyncio.Event()

    # --- sending ---------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            raise LinkClosed(f"the link to {self.name} is closed")
        self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def call(self, method: str, within: float = 30.0, **args: Any) -> Any:
        """Ask the other side and wait for its answer (its error is raised here)."""
        n = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[n] = future
        try:
            self._send({"id": n, "m": method, "a": args})
            await self._writer.drain()
            return await asyncio.wait_for(future, within)
        except (TimeoutError, ConnectionError) as exc:
            if isinstance(exc, LinkClosed):
                raise
            raise LinkClosed(f"{self.name} did not answer {method}") from None
        finally:
            self._waiting.pop(n, None)

    def tell(self, method: str, **args: Any) -> None:
        """Send without waiting for an answer (dropped if the link is closed)."""
        with contextlib.suppress(LinkClosed):
            self._send({"m": method, "a": args})

    # --- receiving -------------------------------------------------------------------------

    async def serve(self) -> None:
        """Read and handle lines until the other side goes; then fail every call waiting."""
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    logger.warning("media link %s: an unreadable line", self.name)
                    break
                self._receive(message)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # ValueError: a line over MAX_LINE
        finally:
            self.close()

    def _receive(self, message: dict[str, Any]) -> None:
        n = message.get("id")
        if "m" not in message:
            future = self._waiting.get(n) if isinstance(n, int) else None
            if future is None or future.done():
                return
            if "e" in message:
                future.set_exception(_error(message["e"]))
            else:
                future.set_result(message.get("r"))
            return
        handler = self._handlers.get(message["m"])
        if handler is None:
            if n is not None:
                self._reply(n, error=errors.InvalidInput("unknown_method", message["m"]))
            return
        task = asyncio.ensure_future(self._handle(handler, message.get("a") or {}, n))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, handler: Handler, args: dict[str, Any], n: int | None) -> None:
        try:
            result = await handler(args)
        except errors.TownhallError as exc:
            if n is not None:
                self._reply(n, error=exc)
            return
        except LinkClosed:
            return
        except Exception:
            logger.exception("media link %s: a handler failed", self.name)
            if n is not None:
                self._reply(n, error=errors.Unavailable("media_unavailable", "Audio failed."))
            return
        if n is not None:
            self._reply(n, result=result)

    def _reply(self, n: int, result: Any = None, error: errors.TownhallError | None = None) -> None:
        if error is None:
            message: dict[str, Any] = {"id": n, "r": result}
        else:
            kind = type(error).__name__ if type(error).__name__ in ERRORS else "Unavailable"
            message = {
                "id": n,
                "e": {
                    "kind": kind,
                    "code": error.code,
                    "message": error.message,
                    "details": error.details,
                },
            }
        with contextlib.suppress(LinkClosed):
            self._send(message)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(Exception):
            self._writer.close()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(LinkClosed(f"the link to {self.name} closed"))
        for task in list(self._tasks):
            task.cancel()


def _error(body: dict[str, Any]) -> errors.TownhallError:
    cls = ERRORS.get(body.get("kind", ""), errors.Unavailable)
    return cls(body.get("code"), body.get("message", ""), **(body.get("details") or {}))


async def open_link(
    host: str, port: int, token: str, handlers: dict[str, Handler], within: float = 5.0
) -> tuple[Link, dict[str, Any]]:
    """Connect to a worker and say hello; its hello back (who it is) with the link."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, limit=MAX_LINE), within
    )
    try:
        writer.write(json.dumps({"hello": token}).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), within)
        hello = json.loads(line) if line else None
    except BaseException:
        writer.close()
        raise
    if not isinstance(hello, dict) or "worker" not in hello:
        writer.close()
        raise LinkClosed(f"the media worker at {host}:{port} refused the link")
    return Link(reader, writer, handlers, f"{host}:{port}"), hello
