"""The ``/api/ws`` endpoint: check the page's origin, authenticate, then hand the socket
to a ``Connection``."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket

from townhall.api.deps import SESSION_COOKIE
from townhall.api.origins import OriginPolicy
from townhall.api.ws.connection import Connection
from townhall.api.ws.gateway import CLOSE_RESTART
from townhall.api.ws.limits import CLOSE_TOO_MANY, MessageGate
from townhall.api.ws.standing import CLOSE_UNAUTHENTICATED
from townhall.app import Container
from townhall.errors import Forbidden, Unauthenticated

logger = logging.getLogger(__name__)

router = APIRouter()

# A page of another site opened the socket (docs/protocol.md, docs/security.md).
CLOSE_FOREIGN_ORIGIN = 4403


def _token(websocket: WebSocket) -> str | None:
    """The session token: bearer header, then cookie, then ``?token=`` (never logged)."""
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return websocket.cookies.get(SESSION_COOKIE) or websocket.query_params.get("token") or None


@router.websocket("/api/ws")
async def socket(websocket: WebSocket) -> None:
    container: Container = websocket.app.state.container
    origins: OriginPolicy = websocket.app.state.origins
    if origins.refuses_socket(websocket.headers):
        # Before the cookie is even read: a foreign page learns nothing about the session.
        await websocket.accept()
        await websocket.close(CLOSE_FOREIGN_ORIGIN, "This page may not connect here.")
        return
    if container.gateway.draining:
        # Shutting down: this socket belongs on another process.
        await websocket.accept()
        await websocket.close(CLOSE_RESTART, "This server is restarting; connect again.")
        return
    token = _token(websocket)
    user = session = None
    if token and len(token) <= 512:
        try:
            user, session = await container.accounts.authenticate(token)
        except (Unauthenticated, Forbidden):  # signed out, or suspended or banned
            user = None
    await websocket.accept()
    if user is None or session is None:
        await websocket.close(CLOSE_UNAUTHENTICATED, "Sign in to continue.")
        return
    settings = container.settings
    hold = await container.socket_quota.acquire(f"ws:{user.id}", settings.ws_max_sockets_per_user)
    if hold is None:
        await websocket.close(CLOSE_TOO_MANY, "Too many connections are open for this account.")
        return
    try:
        await Connection(
            websocket,
            user,
            session.id,
            container.gateway,
            container.standings,
            container.rooms,
            queue_size=settings.ws_send_queue,
            heartbeat=settings.ws_heartbeat_seconds,
            gate=MessageGate(
                settings.ws_messages_per_second,
                settings.ws_message_burst,
                settings.ws_max_message_bytes,
                asyncio.get_running_loop().time(),
            ),
        ).run()
    finally:
        await container.socket_quota.release(hold)
