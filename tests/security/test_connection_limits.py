"""Item 9: the server's connection limits are settings that ``townhall serve`` gives
uvicorn: concurrency, idle keep-alive and the size of a request head."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn

from townhall.__main__ import uvicorn_options

TIMEOUT = 5.0


@asynccontextmanager
async def serve(app: Any, settings: Any) -> AsyncIterator[int]:
    """The app under uvicorn with the options ``townhall serve`` uses, on a free port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    options = uvicorn_options(settings) | {"lifespan": "off", "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def get(
    port: int, extra: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: townhall.test\r\n{extra}\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    return reader, writer, head


@pytest.mark.settings(http_limit_concurrency=2)
async def test_past_the_concurrency_limit_requests_get_503(app: Any, settings: Any) -> None:
    """Connections held open count: past http_limit_concurrency the server answers 503."""
    async with serve(app, settings) as port:
        _, first, head = await get(port)
        assert head.startswith(b"HTTP/1.1 200")
        _, second, head = await get(port)
        assert head.startswith(b"HTTP/1.1 503"), head
        for writer in (first, second):
            writer.close()


@pytest.mark.settings(http_keep_alive_seconds=1)
async def test_idle_connections_are_closed(app: Any, settings: Any) -> None:
    """A kept-alive connection that sends nothing more is closed by the server."""
    async with serve(app, settings) as port:
        reader, writer, head = await get(port)
        assert head.startswith(b"HTTP/1.1 200")
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)  # returns at the server's EOF
        assert reader.at_eof(), rest
        writer.close()


@pytest.mark.settings(http_max_header_bytes=4096)
async def test_an_endless_request_head_is_cut_off(app: Any, settings: Any) -> None:
    """A head that keeps coming past http_max_header_bytes is refused, not buffered."""
    async with serve(app, settings) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: townhall.test\r\nX-Padding: ")
        writer.write(b"x" * 8000)  # and never the blank line that would end the head
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 400"), head
        writer.close()
