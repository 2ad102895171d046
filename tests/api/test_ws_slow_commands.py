"""A socket whose command waits (a join in a storm, a locked room) still answers the heartbeat."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.api.roomkit import create
from tests.api.test_ws import (  # noqa: F401 (fixtures)
    TIMEOUT,
    base,
    open_socket,
)
from townhall.app import Container
from townhall.storage import rooms as store


@pytest.mark.settings(ws_heartbeat_seconds=0.5)
async def test_a_waiting_command_does_not_silence_the_socket(
    open_socket: Any,  # noqa: F811
    people: Any,
    container: Container,
    stack: str,
) -> None:
    """While a command waits for the room's lock, the socket's pongs are still read: the server
    does not close it as silent, and the command is answered once the lock is free."""
    if stack != "postgres":
        pytest.skip("the room's row lock is PostgreSQL's; SQLite runs one writer at a time")
    client = await people.member("host")
    room = (await create(client))["id"]
    host = await open_socket(client)  # from here on, every ping is answered
    async with container.db.transaction() as tx:
        await store.lock_room(tx, room)
        await host.ws.send(
            json.dumps(
                {"id": 99, "type": "room.command", "room": room, "command": "rename", "title": "X"}
            )
        )
        pings = 0
        while pings < 4:  # twice the silence that closes a socket, and more
            message = json.loads(await asyncio.wait_for(host.ws.recv(), TIMEOUT))
            assert message.get("id") != 99, "the command ran through the lock"
            if message["type"] == "ping":
                pings += 1
                await host.ws.send(json.dumps({"type": "pong"}))
    while True:
        message = json.loads(await asyncio.wait_for(host.ws.recv(), TIMEOUT))
        if message["type"] == "ping":
            await host.ws.send(json.dumps({"type": "pong"}))
        elif message.get("id") == 99:
            break
    assert message["success"], message
