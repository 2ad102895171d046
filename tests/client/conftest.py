"""Fixtures for the client library: the app served on a real loopback port, and members."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from townhall.app import Container
from townhall.client import Townhall


@pytest.fixture
async def server_url(app: Any) -> AsyncIterator[str]:
    """The test app behind a real uvicorn server, so WebSockets go over real sockets."""
    # The server takes the bound socket itself: a port probed and let go could be taken by
    # another process before the server binds it.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


Member = Callable[..., Awaitable[Townhall]]


@pytest.fixture
async def member(container: Container, app: Any) -> AsyncIterator[Member]:
    """``await member("ada", url=None)``: a ``Townhall`` client signed in through an operator
    link; over the ASGI app unless ``url`` names a served one."""
    made: list[Townhall] = []

    async def make(username: str, url: str | None = None) -> Townhall:
        await container.accounts.create_account(f"{username}@example.org", username)
        link = await container.accounts.create_sign_in_link(username)
        if url is None:
            th = Townhall("http://townhall.test", transport=httpx.ASGITransport(app=app))
        else:
            th = Townhall(url)
        made.append(th)
        await th.sign_in_with_link(link)
        return th

    yield make
    for th in made:
        await th.aclose()
