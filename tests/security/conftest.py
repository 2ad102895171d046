"""Helpers for the security tests: browser-like sessions (the cookie) and a real server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn

OWN = "http://townhall.test"  # the tests' public_url
SAME_SITE = "http://evil.townhall.test"  # another subdomain: same site, foreign origin


class Browsers:
    """Signed-in people holding the session cookie, as the web app does."""

    def __init__(self, container: Any, make_client: Any) -> None:
        self.container = container
        self.make_client = make_client

    async def member(self, username: str) -> httpx.AsyncClient:
        await self.container.accounts.create_account(f"{username}@example.org", username)
        return await self.sign_in(username)

    async def sign_in(self, username: str) -> httpx.AsyncClient:
        link = await self.container.accounts.create_sign_in_link(username)
        client = self.make_client()
        r = await client.post(
            "/api/auth/link", json={"token": link.rsplit("/", 1)[1], "session": "cookie"}
        )
        assert r.status_code == 200, r.text
        assert "townhall_session" in client.cookies
        return client  # type: ignore[no-any-return]


@pytest.fixture
def browsers(container: Any, make_client: Any) -> Browsers:
    return Browsers(container, make_client)


@asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[int]:
    """Run the app with uvicorn on a free loopback port; yields the port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", log_config=None, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
