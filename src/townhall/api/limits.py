"""Request body caps: ``http_max_body_bytes`` (64 KiB) for every request unless its route
lets it grow (the picture uploads, ``avatar_max_bytes``; the contact upload, sized for
``contacts_max_hashes``); an oversized body is answered 413 before it is read in full.

The cap is checked when the application first asks for the body, so a route's dependency
can raise it beforehand (``allow_body``). A route whose body FastAPI parses before any
dependency runs (a JSON model) has its larger cap named up front instead (``routes``,
by method and path). The cap is checked against the declared ``Content-Length`` first,
then against the bytes actually received, counted chunk by chunk, since a body may come
without a length. Once past the cap the application gets an error instead of more bytes,
and whatever it answers to that is replaced by the 413.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.api.errors import error_body

SCOPE_KEY = "townhall.body_cap"


@dataclass
class BodyCap:
    """The cap of one request's body, in the request's scope."""

    max_bytes: int


def allow_body(request: Request, max_bytes: int) -> None:
    """Let this request's body grow to ``max_bytes``; call it before reading the body."""
    cap = request.scope.get(SCOPE_KEY)
    if isinstance(cap, BodyCap):
        cap.max_bytes = max(cap.max_bytes, max_bytes)


class BodyTooLarge(Exception):
    """Raised into the application when it reads past the cap."""


def too_large(limit: int) -> bytes:
    return json.dumps(
        error_body("body_too_large", f"Request bodies are at most {limit:,} bytes.", limit=limit)
    ).encode()


class CapRequestBodies:
    """ASGI middleware enforcing the body cap on HTTP requests."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, routes: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = dict(routes or {})
        """(method, path) → the larger cap of a route whose body is parsed before it runs."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = BodyCap(max(self.max_bytes, self.routes.get((scope["method"], scope["path"]), 0)))
        scope[SCOPE_KEY] = cap
        declared = Headers(scope=scope).get("content-length", "")
        received = 0
        first = True
        refused: int | None = None  # the cap that was exceeded
        started = False

        async def counted() -> Message:
            nonlocal received, first, refused
            if refused is None and first and declared.isdigit():
                if int(declared) > cap.max_bytes:
                    refused = cap.max_bytes
            first = False
            if refused is not None:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.max_bytes:
                    refused = cap.max_bytes
                    raise BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the application's own answer to the error: the 413 goes instead
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            pass  # only ever raised by ``counted``: the answer is decided below
        if refused is not None and not started:
            await _answer(send, refused)


async def _answer(send: Send, limit: int) -> None:
    body = too_large(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
