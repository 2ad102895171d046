"""The WebSocket commands: each registered once, by name, with its schema and its handler.

``REGISTRY`` is what the connection parses and dispatches with, and what docs/protocol.md's
command table is checked against (tests/api/test_ws_commands.py). A handler queues its
result itself, so that it can send it before the live events that follow it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from townhall.api.ws import protocol

if TYPE_CHECKING:
    from townhall.api.ws.connection import Connection

M = TypeVar("M", bound=protocol.Message)
Handler = Callable[["Connection", Any], Awaitable[None]]
Typed = Callable[["Connection", M], Awaitable[None]]


@dataclass(frozen=True)
class WebSocketCommand:
    name: str
    schema: type[protocol.Message]
    handler: Handler
    replies: bool = True
    """False for the one message that gets no reply (``pong``)."""


REGISTRY: dict[str, WebSocketCommand] = {}
SCHEMAS: dict[str, type[protocol.Message]] = {}
"""Name → schema, for ``protocol.parse``."""


def websocket_command(
    name: str, schema: type[M], *, replies: bool = True
) -> Callable[
    [Callable[[Connection, M], Awaitable[None]]], Callable[[Connection, M], Awaitable[None]]
]:
    def register(
        handler: Callable[[Connection, M], Awaitable[None]],
    ) -> Callable[[Connection, M], Awaitable[None]]:
        if name in REGISTRY:
            raise RuntimeError(f"WebSocket command {name!r} registered twice")
        REGISTRY[name] = WebSocketCommand(name, schema, handler, replies)
        SCHEMAS[name] = schema
        return handler

    return register


@websocket_command("subscribe", protocol.Subscribe)
async def subscribe(conn: Connection, message: protocol.Subscribe) -> None:
    await conn.subscribe(message.id, message.room, message.after)


@websocket_command("unsubscribe", protocol.Unsubscribe)
async def unsubscribe(conn: Connection, message: protocol.Unsubscribe) -> None:
    conn.drop(message.room)
    conn.send(protocol.result(message.id, {}))


@websocket_command("room.join", protocol.RoomJoin)
async def room_join(conn: Connection, message: protocol.RoomJoin) -> None:
    stream = await conn.open(message.room)
    try:
        snapshot = await conn.rooms.join(conn.user, message.room)
    except BaseException:
        conn.drop(message.room)
        raise
    conn.start(message.id, stream, snapshot)


@websocket_command("room.leave", protocol.RoomLeave)
async def room_leave(conn: Connection, message: protocol.RoomLeave) -> None:
    await conn.rooms.leave(conn.user, message.room)
    conn.drop(message.room)
    conn.send(protocol.result(message.id, {}))


@websocket_command("room.command", protocol.RoomCommand)
async def room_command(conn: Connection, message: protocol.RoomCommand) -> None:
    done = await conn.rooms.command(conn.user, message.room, message.command, message.arguments())
    conn.send(protocol.result(message.id, done))


@websocket_command("room.create", protocol.RoomCreate)
async def room_create(conn: Connection, message: protocol.RoomCreate) -> None:
    snapshot = await conn.rooms.create(conn.user, message.title, message.kind, message.hand_raise)
    stream = await conn.open(snapshot.id)
    try:
        missed = await conn.rooms.events_after(conn.user, stream.room, snapshot.seq)
    except BaseException:
        conn.drop(stream.room)
        raise
    # Never await between sending the result and starting the stream.
    conn.begin(message.id, stream, snapshot, missed or [])


@websocket_command("pong", protocol.Pong, replies=False)
async def pong(conn: Connection, message: protocol.Pong) -> None:
    """A sign of life; reading it already counted."""
