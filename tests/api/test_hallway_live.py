"""S6 the hallway's live updates: a hint on every socket when live rooms change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.roomkit import create, join, ok
from tests.api.test_ws import Socket, serving, token_of
from tests.waiting import until
from tests.waiting import ws_connect as connect
from townhall.bus import channels
from townhall.storage import users as user_store


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


async def hint(s: Socket) -> dict[str, Any]:
    while True:
        message = await s.receive()
        if message["type"] == "hallway.changed":
            return message
        s.inbox.append(message)


@pytest.mark.settings(hallway_hint_seconds=0.05)
async def test_sockets_are_told_when_the_hallway_changes(base: str, people: Any) -> None:
    """Starting and ending a room each bring a hallway.changed hint to everyone's socket,
    and the hallway then shows the change."""
    host, ann = await people.member("host"), await people.member("ann")
    ws = await connect(
        f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(ann)}"}
    )
    s = Socket(ws)
    await s.request("unsubscribe", room="none")
    room = await create(host, title="Fresh")
    assert await hint(s) == {"type": "hallway.changed"}
    rooms = (await ann.get("/api/hallway")).json()["rooms"]
    assert [r["id"] for r in rooms] == [room["id"]]

    r = await host.post(f"/api/rooms/{room['id']}/commands", json={"command": "end"})
    assert r.status_code == 200, r.text
    await hint(s)
    assert (await ann.get("/api/hallway")).json()["rooms"] == []
    await ws.close()


@pytest.mark.settings(hallway_hint_seconds=3600)
async def test_listeners_coming_and_going_bring_no_hint(people: Any) -> None:
    """A listener's arrival and departure change the room's count in the hallway, which a
    fetch shows at once, but they do not make the hallway worth a hint to every socket
    (docs/hallway.md, "Live updates"); a change of the stage still does. The process's
    hint (run by hand here, the interval is an hour) publishes on the shared channel only
    when something worth it changed since the last one."""
    container = people.container
    heard: list[str] = []
    await container.bus.subscribe(channels.HALLWAY, lambda _channel, text: heard.append(text))
    marker = '{"type":"marker"}'

    async def hinted() -> list[str]:
        """What the hint publishes now, up to a marker sent after it."""
        heard.clear()
        await container.hallway.hint()
        await container.bus.publish(channels.HALLWAY, marker)
        await until(lambda: marker in heard, "the marker on the hallway channel")
        return heard[: heard.index(marker)]

    host, bob = await people.member("host"), await people.member("bob")
    room = (await create(host, title="Filling"))["id"]
    assert await hinted() == [channels.HALLWAY_HINT]
    await join(bob, room)
    r = await bob.post(f"/api/rooms/{room}/leave")
    assert r.status_code == 200, r.text
    await join(bob, room)
    (card,) = (await host.get("/api/hallway")).json()["rooms"]
    assert card["listeners"] == 1
    assert await hinted() == []
    await ok(host, room, "invite_to_speak", target="bob")
    await ok(bob, room, "accept_speak")
    assert await hinted() == [channels.HALLWAY_HINT]


@pytest.mark.settings(hallway_hint_seconds=3600)
async def test_hints_from_every_process_reach_a_socket_once(base: str, people: Any) -> None:
    """Hallway hints published at once (by every process that saw a change) reach a socket
    once: the gateway coalesces them, at most one per hallway_hint_seconds."""
    ann = await people.member("ann")
    ws = await connect(
        f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(ann)}"}
    )
    s = Socket(ws)
    await s.request("unsubscribe", room="none")
    container = people.container
    async with container.db.transaction() as tx:
        me = await user_store.by_username(tx, "ann")
    assert me is not None
    for _ in range(3):
        await container.bus.publish(channels.HALLWAY, channels.HALLWAY_HINT)
    # Published after the hints, so it arrives after them.
    await container.bus.publish(channels.user(me.id), channels.notice("marker", {}))
    names = await s.names_until("marker")
    assert names.count("hallway.changed") == 1, names
    await ws.close()
