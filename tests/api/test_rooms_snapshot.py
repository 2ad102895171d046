"""S4 a room's snapshot while a process keeps the room's stage and first listeners (a socket
there follows the room and its first page is full): each join still shows them as they are."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import test_ws
from tests.api.roomkit import bring_on_stage, join, ok
from tests.api.test_ws import room_with

base = test_ws.base
open_socket = test_ws.open_socket


def listed(snapshot: dict[str, Any]) -> list[tuple[str, bool]]:
    """The snapshot's audience as (username, away)."""
    return [(m["username"], m["away"]) for m in snapshot["audience"]]


@pytest.mark.settings(room_snapshot_audience=2)
async def test_joiners_see_the_first_listeners_as_they_are(open_socket: Any, people: Any) -> None:
    """With the first page of listeners full, a joiner's snapshot shows who is on it now:
    after one of them leaves, after one goes on stage and after they go away."""
    room, (host,) = await room_with(open_socket, people)
    names = ["ann", "bob", "cat", "dan", "eve", "fay", "gus"]
    # Everyone signs in first: signing in moves the clock, which the room sweeper reads.
    them = {name: await people.member(name) for name in names}
    for name in ("ann", "bob", "cat"):
        await join(them[name], room)
        await host.arrived(name)
    assert listed(await join(them["dan"], room)) == [
        ("ann", False),
        ("bob", False),
        ("dan", False),
    ]
    await host.arrived("dan")

    await ok(them["ann"], room, "leave")
    await host.departed("ann")
    assert listed(await join(them["eve"], room)) == [
        ("bob", False),
        ("cat", False),
        ("eve", False),
    ]
    await host.arrived("eve")

    await bring_on_stage(host.client, them["bob"], room, "bob")
    joined = await join(them["fay"], room)
    assert [m["username"] for m in joined["stage"]] == ["host", "bob"]
    assert listed(joined) == [("cat", False), ("dan", False), ("fay", False)]
    await host.arrived("fay")

    # The listeners have no socket: past the presence window they are away, the host not.
    container = people.container
    people.clock.advance(seconds=container.settings.room_presence_timeout_seconds + 1)
    await container.gateway.heartbeat()
    await container.rooms.sweep()
    await host.digest(lambda d: ("dan", True) in listed({"audience": d["members"]}))
    assert listed(await join(them["gus"], room)) == [
        ("cat", True),
        ("dan", True),
        ("gus", False),
    ]
