"""Draining the sockets before the process stops (SIGTERM): every command a socket sent is
answered, by its result or by ``server_draining`` when it came too late to run, and then the
socket is closed with 1012; a socket opened meanwhile is closed with 1012 at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from websockets.exceptions import ConnectionClosed

from tests.api.test_ws import (  # noqa: F401 (fixtures)
    TIMEOUT,
    base,
    close_code,
    open_socket,
    room_with,
    token_of,
)
from tests.waiting import ws_connect as connect

TAKEN = 30
LATE = 10


async def test_a_drained_socket_answers_what_it_took_then_closes_1012(
    open_socket: Any,  # noqa: F811
    people: Any,
    container: Any,
    base: str,  # noqa: F811
) -> None:
    room, (host, bob) = await room_with(open_socket, people, "bob")
    # A burst of commands sent without waiting; the drain starts once the first is answered,
    # while the others wait their turn, and a second burst arrives during the drain.
    for i in range(1, TAKEN + 1):
        await host.ws.send(rename(room, i))
    answers: list[dict[str, Any]] = []
    while not any(m.get("id") == 1 for m in answers):
        answers.append(await host.receive())
    drained = asyncio.create_task(container.drain())
    for i in range(TAKEN + 1, TAKEN + LATE + 1):
        with contextlib.suppress(ConnectionClosed):
            await host.ws.send(rename(room, i))
    assert await asyncio.wait_for(_until_closed(host.ws, answers), TIMEOUT) == 1012

    # In the order sent: the commands taken before the drain ran and were answered before
    # the socket closed; the ones read during it were refused, not run; the ones that came
    # after the close were lost with the socket. A client sends the last two kinds again.
    replies = {m["id"]: m for m in answers if m.get("type") == "result"}
    outcome = "".join(
        "-" if i not in replies else "r" if replies[i]["success"] else "d"
        for i in range(1, TAKEN + LATE + 1)
    )
    assert all(
        replies[i]["error"]["code"] == "server_draining"
        for i, o in enumerate(outcome, 1)
        if o == "d"
    )
    assert re.fullmatch("r+d*-*", outcome), outcome
    ran = outcome.count("r")
    renamed = [m["data"]["title"] for m in answers if m.get("name") == "room.updated"]
    assert renamed == [f"take {i}" for i in range(1, ran + 1)]

    # The idle socket is told too, and nothing new is served while the process stops.
    assert await close_code(bob.ws) == 1012
    await drained
    state = (await host.client.get(f"/api/rooms/{room}")).json()
    assert state["title"] == f"take {ran}"
    assert state["me"]["role"] == "moderator"
    async with connect(
        f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(bob.client)}"}
    ) as late_socket:
        assert await close_code(late_socket) == 1012


def rename(room: str, i: int) -> str:
    return json.dumps(
        {"id": i, "type": "room.command", "room": room, "command": "rename", "title": f"take {i}"}
    )


async def _until_closed(ws: Any, into: list[dict[str, Any]]) -> int | None:
    """Gather every message until the server closes; its close code."""
    try:
        while True:
            into.append(json.loads(await ws.recv()))
    except ConnectionClosed:
        return ws.close_code
