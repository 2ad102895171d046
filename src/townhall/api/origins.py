"""Which web origins may drive a browser session: the check for unsafe requests and for
WebSocket handshakes (cross-site request forgery).

The session cookie is ``SameSite=Lax``, which keeps it off cross-site POSTs but not off
*same-site* ones: a page on another subdomain (``evil.example.org`` next to
``townhall.example.org``) is same-site, and a WebSocket handshake is not covered at all.
So the server checks where a browser request comes from, against the origin of
``public_url`` and ``allowed_origins``:

- **Unsafe methods** (POST, PUT, PATCH, DELETE) not carrying a bearer token.
  Browsers send ``Origin`` on every such request; when it is missing (an old browser, a
  privacy extension) ``Sec-Fetch-Site`` decides (``same-origin`` or ``none`` pass), then
  ``Referer``. A request with none of the three is not from a browser page, so it cannot
  be a forged one: API clients and tools pass. Requests without a cookie are checked too:
  a forged sign-in (login CSRF) carries no cookie yet.
- **WebSocket handshakes**: browsers always send ``Origin`` there; a foreign one is closed
  with ``CLOSE_FOREIGN_ORIGIN`` before the session is even looked at.

Bearer clients never go through a browser's ambient credentials, so they are left alone.
Everything here works on plain data; the middleware at the bottom is the only I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from townhall.api.errors import error_body
from townhall.config import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# What Sec-Fetch-Site says of a request the page's own origin (or the person) made.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower case, the default port left out; None for
    anything that is not an http(s) URL (including the ``null`` origin of sandboxed pages)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class OriginPolicy:
    """The origins whose pages may use a browser session here."""

    allowed: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        urls = [settings.resolved_public_url, *settings.allowed_origins]
        if settings.public_url is None and settings.host in (*LOOPBACK_NAMES, "::1"):
            # The guessed address of a laptop instance: any loopback name reaches it.
            urls += [f"http://{name}:{settings.port}" for name in LOOPBACK_NAMES]
        return cls(frozenset(o for o in map(origin_of, urls) if o))

    def allows(self, origin: str) -> bool:
        found = origin_of(origin)
        return found is not None and found in self.allowed

    def refuses_request(self, method: str, headers: Mapping[str, str]) -> bool:
        """Whether an HTTP request is a browser request from a foreign page."""
        if method.upper() not in UNSAFE_METHODS or _bearer(headers):
            return False
        origin = headers.get("origin")
        if origin is not None:
            return not self.allows(origin)
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site.strip().lower() not in OWN_FETCH_SITES
        referer = headers.get("referer")
        if referer is not None:
            return not self.allows(referer)
        return False

    def refuses_socket(self, headers: Mapping[str, str]) -> bool:
        """Whether a WebSocket handshake comes from a foreign page."""
        origin = headers.get("origin")
        return origin is not None and not self.allows(origin)

    def websocket_sources(self) -> list[str]:
        """The ``ws(s)://`` twins of the allowed origins, for the CSP's ``connect-src``."""
        return sorted(o.replace("http", "ws", 1) for o in self.allowed)


def _bearer(headers: Mapping[str, str]) -> bool:
    # Only a bearer token: Basic credentials (a password-protected proxy) are ambient too.
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


FOREIGN_ORIGIN = json.dumps(
    error_body("foreign_origin", "This request came from a page of another site.")
).encode()


class RefuseForeignOrigins:
    """ASGI middleware: answers 403 ``foreign_origin`` to unsafe requests from foreign pages,
    before the application sees them."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.policy.refuses_request(
            scope["method"], Headers(scope=scope)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(FOREIGN_ORIGIN)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": FOREIGN_ORIGIN})
            return
        await self.app(scope, receive, send)
