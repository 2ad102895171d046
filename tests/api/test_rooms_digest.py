"""S4 the audience is state: digests instead of an event per listener, through real sockets,
and joins that neither wait for the room's row lock nor overfill the room."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.api import test_ws
from tests.api.roomkit import create, follow, join, ok, snap
from tests.api.test_ws import room_with
from tests.waiting import PATIENCE, until
from townhall.app import Container
from townhall.bus import channels
from townhall.domain.rooms.audience import AudienceDigests
from townhall.domain.rooms.shared import SharedSnapshots
from townhall.storage import rooms as store

# The real sockets of tests/api/test_ws.py.
base = test_ws.base
open_socket = test_ws.open_socket


def usernames(data: dict[str, Any]) -> list[str]:
    return [m["username"] for m in data["members"]]


async def test_a_listener_sees_the_count_and_digests_not_events(
    open_socket: Any, people: Any
) -> None:
    """A listener learns of others coming and going from digests with the count; no
    numbered event is made for them."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    carol = await people.member("carol")
    await join(carol, room)
    came = await bob.arrived("carol")
    assert came["listeners"] == 2 and came["complete"] is True
    await ok(carol, room, "leave")
    went = await bob.departed("carol")
    assert went["listeners"] == 1 and usernames(went) == []
    await host.ok("room.command", room=room, command="rename", title="Still here")
    names = await bob.names_until("room.updated")
    assert not {"member.joined", "member.left"} & set(names)
    log = (await host.ok("subscribe", room=room, after=0))["events"]
    assert [e["name"] for e in log] == ["room.created", "member.joined", "room.updated"]


async def test_moderators_see_who_arrived_with_their_group_and_hands(
    open_socket: Any, people: Any
) -> None:
    """A moderator's digest names the listener who came in, grouped as followed by the
    speakers when someone on stage follows them; hands still arrive at once."""
    room, (host,) = await room_with(open_socket, people)
    dan, eve = await people.member("dan"), await people.member("eve")
    await follow(host.client, "dan")
    await join(dan, room)
    await join(eve, room)
    groups: dict[str, str] = {}
    while len(groups) < 2:
        data = await host.digest()
        groups.update({m["username"]: m["group"] for m in data["members"]})
    assert groups == {"dan": "followed_by_speakers", "eve": "others"}
    await ok(eve, room, "raise_hand")
    assert (await host.event("hand.raised"))["data"] == {"username": "eve"}


async def test_a_resumed_client_converges_on_the_audience(open_socket: Any, people: Any) -> None:
    """A client that resumes gets the current count at once (a digest that is not complete,
    never the ones it missed) and reads the audience to know who is there."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    seq = (await host.ok("subscribe", room=room))["snapshot"]["seq"]
    await bob.close()
    carol, dan = await people.member("carol"), await people.member("dan")
    await join(carol, room)
    await join(dan, room)
    await ok(carol, room, "leave")
    await host.departed("carol")
    again = await open_socket(bob.client)
    assert (await again.ok("subscribe", room=room, after=seq))["events"] == []
    data = await again.digest()
    assert data == {"listeners": 2, "members": [], "left": [], "complete": False}
    page = (await bob.client.get(f"/api/rooms/{room}/audience")).json()
    assert [m["username"] for m in page["items"]] == ["bob", "dan"]


@pytest.mark.settings(room_digest_seconds=1.0, room_digest_fanout=1)
async def test_listeners_are_told_as_often_as_the_count_they_are_told_allows(
    people: Any, container: Container
) -> None:
    """With N listeners, the audience is told every N / room_digest_fanout seconds, N being
    the count the digest is about to tell: a room filling up is not told after the interval
    its smaller count allowed. The stage is told every interval all the same."""
    host = await people.member("host")
    room = (await create(host))["id"]
    # A digest keeper of its own, ticked by the test (the joins go over HTTP: no socket
    # makes the container's keeper watch the room).
    digests = AudienceDigests(
        container.db,
        container.settings,
        container.bus,
        SharedSnapshots(container.settings.room_snapshot_audience),
    )
    changes: list[str] = []
    heard: list[dict[str, Any]] = []
    marks: list[int] = []

    def on_audience(channel: str, payload: str) -> None:
        message = json.loads(payload)
        if "mark" in message:
            marks.append(message["mark"])
        else:
            heard.append(message)

    await container.bus.subscribe(channels.roster(room), lambda c, p: changes.append(p))
    await container.bus.subscribe(channels.audience(room), on_audience)
    await digests.watch(room)

    async def tick(now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The digests one tick published: (to the stage, to the listeners)."""
        before = len(heard)
        await digests.tick(now)
        # Published after the tick's digests, on the same channel: heard after them.
        await container.bus.publish(channels.audience(room), json.dumps({"mark": now}))
        await until(lambda: now in marks, "the tick's digests to arrive")
        told = heard[before:]
        return (
            [m["data"] for m in told if m["audience"]["roles"] == ["moderator", "speaker"]],
            [m["data"] for m in told if m["audience"]["roles"] == ["listener"]],
        )

    async def arrive(*names: str) -> None:
        expected = len(changes) + len(names)
        for name in names:
            await join(await people.member(name), room)
        await until(lambda: len(changes) >= expected, "the arrivals to be gathered")

    await arrive("ann", "bob")
    stage, audience = await tick(1000.0)
    assert [d["listeners"] for d in stage] == [2] and [d["listeners"] for d in audience] == [2]
    await arrive("cat", "dan", "eve", "fay")
    # 3 s after telling 2 listeners: 2 / 1 s had passed, but 6 / 1 s have not.
    stage, audience = await tick(1003.0)
    assert [usernames(d) for d in stage] == [["cat", "dan", "eve", "fay"]] and audience == []
    stage, audience = await tick(1006.0)
    assert stage == []
    assert [(d["listeners"], usernames(d), d["complete"]) for d in audience] == [
        (6, ["cat", "dan", "eve", "fay"], True)
    ]
    await digests.unwatch(room)


@pytest.mark.settings(room_listener_capacity=5)
async def test_capacity_holds_under_concurrent_joins(people: Any) -> None:
    """Twenty people joining a room with room for five at the same moment: five get in,
    the others are told the room is full."""
    host = await people.member("host")
    room = (await create(host))["id"]
    crowd = [await people.member(f"fan{i}") for i in range(20)]
    answers = await asyncio.gather(*(c.post(f"/api/rooms/{room}/join") for c in crowd))
    assert sorted(r.status_code for r in answers) == [200] * 5 + [409] * 15
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"room_full"}
    assert (await snap(host, room))["listeners"] == 5


@pytest.mark.settings(room_listener_capacity=4)
async def test_joins_let_in_together_each_get_their_own_answer(
    open_socket: Any, people: Any, container: Container, stack: str
) -> None:
    """Joins that queue up while the room's audience is held go in together, and each gets
    the answer it would have had alone: someone removed is refused, someone already in keeps
    their place, one person on two sockets gets one answer, and the room fills to capacity."""
    host, back, gone = [await people.member(n) for n in ("host", "back", "gone")]
    room = (await create(host))["id"]
    await join(back, room)
    await join(gone, room)
    await ok(host, room, "remove", target="gone")
    fans = [await people.member(f"fan{i}") for i in range(4)]
    callers = [back, gone, fans[0], fans[0], fans[1], fans[2], fans[3], fans[1]]
    sockets = [await open_socket(c) for c in callers]

    def join_all() -> Any:
        return asyncio.gather(*(s.request("room.join", room=room) for s in sockets))

    if stack == "postgres":
        # Held here, the first join waits for the audience and most others queue behind it
        # for the next batch. (On SQLite every command first reads the person's standing,
        # in turn for the one connection, so the joins reach the queue as it empties.)
        joins = container.rooms._joins
        async with container.db.transaction() as tx:
            await store.lock_audience(tx, room)
            answers = join_all()
            await until(lambda: joins.waiting(room) >= 5, "the joins to queue up")
    else:
        answers = join_all()
    got = [(a["success"], a.get("error", {}).get("code", "")) for a in await answers]
    assert got[:2] == [(True, ""), (False, "removed_from_room")], got
    assert got[2] == got[3] and got[4] == got[7], got  # the same person, the same answer
    fan_answers = dict(zip(["fan0", "fan0", "fan1", "fan2", "fan3", "fan1"], got[2:], strict=True))
    assert sorted(fan_answers.values()) == [(False, "room_full")] + [(True, "")] * 3, got
    admitted = {fan for fan, answer in fan_answers.items() if answer[0]}
    page = (await host.get(f"/api/rooms/{room}/audience")).json()["items"]
    assert sorted(m["username"] for m in page) == sorted({"back", *admitted})
    assert (await snap(host, room))["listeners"] == 4


async def test_a_listener_joins_while_the_room_row_is_locked(
    people: Any, container: Container, stack: str
) -> None:
    """Joining the audience does not wait for the room's row lock, which stage changes hold."""
    if stack != "postgres":
        pytest.skip("SQLite runs one writing transaction at a time")
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    async with container.db.transaction() as tx:
        await store.lock_room(tx, room)
        joined = await asyncio.wait_for(join(ann, room), PATIENCE)
    assert joined["me"]["role"] == "listener"


async def test_a_listener_leaves_while_the_room_row_is_locked(
    people: Any, container: Container, stack: str
) -> None:
    """Leaving the audience does not wait for the room's row lock either."""
    if stack != "postgres":
        pytest.skip("SQLite runs one writing transaction at a time")
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    await join(ann, room)
    async with container.db.transaction() as tx:
        await store.lock_room(tx, room)
        r = await asyncio.wait_for(ann.post(f"/api/rooms/{room}/leave"), PATIENCE)
    assert r.status_code == 200, r.text
    assert (await snap(host, room))["listeners"] == 0


async def test_the_last_two_leaving_at_once_end_the_room(people: Any) -> None:
    """The moderator and the last listener leaving at the same moment (one under the
    room's row lock, the other without it) still leave no empty live room behind."""
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    await join(ann, room)
    left = await asyncio.gather(
        host.post(f"/api/rooms/{room}/leave"), ann.post(f"/api/rooms/{room}/leave")
    )
    assert [r.status_code for r in left] == [200, 200], [r.text for r in left]
    r = await host.get(f"/api/rooms/{room}")
    assert r.status_code == 200 and r.json()["status"] == "ended", r.text


async def test_joins_racing_the_end_leave_nobody_inside(people: Any, container: Container) -> None:
    """Listeners joining while the moderator ends the room either got in before the end
    (and are out with it) or are told it ended; nobody stays inside an ended room."""
    host = await people.member("host")
    room = (await create(host))["id"]
    crowd = [await people.member(f"fan{i}") for i in range(10)]
    ended, *joins = await asyncio.gather(
        host.post(f"/api/rooms/{room}/commands", json={"command": "end"}),
        *(c.post(f"/api/rooms/{room}/join") for c in crowd),
    )
    assert ended.status_code == 200, ended.text
    assert {r.status_code for r in joins} <= {200, 410}, [r.text for r in joins]
    async with container.db.transaction() as tx:
        assert not await store.anyone_in(tx, room)
