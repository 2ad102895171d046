"""The HTTP application: middleware, error mapping, routers and the static web client."""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import Mount
from starlette.types import ASGIApp

from townhall import __version__
from townhall.api import contract, errors
from townhall.api.deps import SESSION_COOKIE
from townhall.api.headers import SecurityHeaders, security_headers
from townhall.api.limits import CapRequestBodies
from townhall.api.origins import OriginPolicy, RefuseForeignOrigins
from townhall.api.routes import ROUTERS
from townhall.api.routes.waitlist import contacts_body_bytes
from townhall.api.ws.routes import router as ws_router
from townhall.app import Container
from townhall.errors import NotFound, TownhallError, Unauthenticated
from townhall.logs import request_id

logger = logging.getLogger(__name__)
access = logging.getLogger("townhall.access")

WEB = Path(__file__).resolve().parent.parent / "web"
SHARE_LINK = re.compile(r"/(r|e|c)/([A-Za-z0-9_-]{1,22})")
SHARED = {"r": "room", "e": "event", "c": "club"}
"""A share link's letter → the app's route for it."""


def _logged_path(request: Request) -> str:
    """The route's template (``/signin/{token}``), never the raw path of an API route:
    paths can carry secrets such as sign-in and invite tokens."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return route.path
    return request.url.path


def _route_label(request: Request) -> str:
    """The route's template as a metrics label; a bounded set, so a path outside the API
    (a static file, an address that matches nothing) is named by its kind only."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return route.path
    return "static" if isinstance(route, Mount) else "unmatched"


# The development-only API docs page loads Swagger UI from its CDN and starts it inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)


class TownhallAPI(FastAPI):
    """FastAPI with the security headers outside everything, the error pages included."""

    security_headers: list[tuple[str, str]] = []

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.security_headers)


def create_api(
    container: Container,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
) -> FastAPI:
    settings = container.settings
    app = TownhallAPI(
        title="Townhall",
        version=__version__,
        description='Live voice rooms. Errors are `{"error": {"code", "message"}}`.',
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    origins = OriginPolicy.from_settings(settings)
    app.security_headers = security_headers(settings, origins.websocket_sources())
    app.state.container = container
    app.state.origins = origins
    errors.install(app)
    contract.install(app, settings)

    access_log = settings.access_log

    @app.middleware("http")
    async def methods_the_document_gives(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """A method the document does not give an address is 405 with its ``Allow``, also
        where a templated route would take the request (``PATCH /api/clubs/search`` is not
        ``PATCH /api/clubs/{club_id}``). Declared first, so it runs inside the request id."""
        path = request.url.path
        if path.startswith("/api/"):
            methods = contract.methods_at(app, path)
            if methods and request.method not in methods:
                return JSONResponse(
                    errors.error_body("method_not_allowed", "This address has no such method."),
                    405,
                    headers={"Allow": ", ".join(sorted(methods))},
                )
        return await call_next(request)

    @app.middleware("http")
    async def with_request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            elapsed = time.perf_counter() - started
            path = _logged_path(request)
            container.metrics.request(
                request.method, _route_label(request), response.status_code, elapsed
            )
            if access_log:
                # One line a request; the path is the route's template and the query is
                # left out, so no token in an address reaches the log.
                access.info(
                    "%s %s %s %.1f ms",
                    request.method,
                    path,
                    response.status_code,
                    elapsed * 1000,
                    extra={
                        "method": request.method,
                        "path": path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
        finally:
            request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        return response

    @app.middleware("http")
    async def share_links_open_the_app(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """A signed-in person following a share link (a room, an event, a club) goes to it in
        the web app; visitors (and stale sessions) get the public preview page."""
        share = SHARE_LINK.fullmatch(request.url.path)
        token = request.cookies.get(SESSION_COOKIE)
        if share and token and request.method == "GET":
            try:
                await container.accounts.authenticate(token)
            except TownhallError:
                pass
            else:
                where = SHARED[share.group(1)]
                return RedirectResponse(f"/#/{where}/{share.group(2)}", status_code=303)
        return await call_next(request)

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(ws_router)
    # Added last, so they run first: foreign pages are refused before a body is read.
    app.add_middleware(
        CapRequestBodies,
        max_bytes=settings.http_max_body_bytes,
        routes={("PUT", "/api/me/contacts"): contacts_body_bytes(settings.contacts_max_hashes)},
    )
    app.add_middleware(RefuseForeignOrigins, policy=origins)

    if settings.development:

        @app.get("/api/docs", include_in_schema=False)
        async def api_docs() -> HTMLResponse:
            page = get_swagger_ui_html(openapi_url="/api/openapi.json", title="Townhall API")
            page.headers["Content-Security-Policy"] = DOCS_CSP
            return page

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: off unless ``metrics_token`` is set, then for its bearer only."""
        token = settings.metrics_token
        if token is None:
            raise NotFound("not_found", "No such address.")
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not secrets.compare_digest(given.encode(), expected.encode()):
            raise Unauthenticated("bad_metrics_token", "Send the metrics token as a bearer token.")
        body = await container.metrics.render(container.db)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    @app.get("/files/{key}", include_in_schema=False)
    async def stored_file(key: str) -> FileResponse:
        path = container.files.path(key)
        if path is None:
            raise NotFound("file_not_found", "No such file.")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        # Served from the root so it may control the whole app; always revalidated so a
        # new version takes over at the next visit.
        return FileResponse(
            WEB / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @app.get("/invite/{token}", include_in_schema=False)
    async def invite_page(token: str) -> FileResponse:
        # The web client reads the token from the address and offers sign-up.
        return FileResponse(WEB / "index.html")

    contract.answer_the_rest(app)
    app.mount("/", StaticFiles(directory=WEB, html=True), name="web")
    return app
