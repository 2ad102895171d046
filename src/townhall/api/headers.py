"""Security headers on every HTTP response: a strict Content-Security-Policy, no framing,
no MIME sniffing, a short referrer, and HSTS when the instance is served over https.

The web app has no inline script or style and loads nothing from elsewhere, so the policy
allows only this origin: ``'self'`` for scripts, styles, pictures, the manifest and the
service worker; ``blob:`` and ``data:`` for pictures and media made in the page; the
WebSocket's ``ws(s)://`` address for ``connect-src``. A response that sets a header itself
keeps its own value (the development-only API docs page relaxes the policy that way).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.config import Settings


def content_security_policy(websockets: list[str]) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "media-src": "'self' blob:",
        "connect-src": " ".join(["'self'", *websockets]),
        "font-src": "'self'",
        "manifest-src": "'self'",
        "worker-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(settings: Settings, websockets: list[str]) -> list[tuple[str, str]]:
    headers = [
        ("Content-Security-Policy", content_security_policy(websockets)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), geolocation=(), microphone=(self)"),
    ]
    if settings.resolved_public_url.startswith("https://") and settings.hsts_seconds > 0:
        headers.append(("Strict-Transport-Security", f"max-age={settings.hsts_seconds}"))
    return headers


class SecurityHeaders:
    """ASGI middleware adding ``headers`` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp, headers: list[tuple[str, str]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
