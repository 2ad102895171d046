"""S8 the shield: someone blocked by ``shield_blocks`` or more of the people you follow
shows ``shield: true`` to you, on their profile and in a room's member views."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import create, join


async def follow(client: Any, username: str) -> None:
    r = await client.put(f"/api/users/{username}/follow")
    assert r.status_code == 200, r.text


async def block(client: Any, username: str) -> None:
    r = await client.put(f"/api/users/{username}/block")
    assert r.status_code == 200, r.text


async def cast(people: Any, blockers: int) -> tuple[Any, Any, Any]:
    """Vic follows ``blockers`` people who each blocked Troll; Una follows all but one."""
    vic, una = await people.member("vic"), await people.member("una")
    troll = await people.member("troll")
    for n in range(blockers):
        friend = await people.member(f"friend{n}")
        await block(friend, "troll")
        await follow(vic, f"friend{n}")
        if n:
            await follow(una, f"friend{n}")
    return vic, una, troll


async def test_the_shield_shows_on_the_profile_to_those_it_concerns(people: Any) -> None:
    """Three of Vic's follows blocked Troll: Vic sees the shield; Una, who follows two of
    them, does not; nobody sees it on their own profile, visitors never."""
    vic, una, troll = await cast(people, 3)
    assert (await vic.get("/api/users/troll")).json()["shield"] is True
    assert (await una.get("/api/users/troll")).json()["shield"] is False
    assert (await troll.get("/api/users/troll")).json()["shield"] is None
    assert (await people.make_client().get("/api/users/troll")).json()["shield"] is None


async def test_the_shield_shows_in_the_room_to_each_viewer(people: Any) -> None:
    """In a room the snapshot and the audience pages mark Troll for Vic only; on stage too."""
    vic, una, troll = await cast(people, 3)
    host = await people.member("host")
    room = await create(host)
    await join(troll, room["id"])
    await join(una, room["id"])
    snap = await join(vic, room["id"])
    marks = {m["username"]: m["shield"] for m in snap["audience"] + snap["stage"]}
    assert marks == {"troll": True, "una": False, "vic": False, "host": False}
    page = (await una.get(f"/api/rooms/{room['id']}/audience")).json()["items"]
    assert {m["username"]: m["shield"] for m in page}["troll"] is False
    page = (await vic.get(f"/api/rooms/{room['id']}/audience")).json()["items"]
    assert {m["username"]: m["shield"] for m in page}["troll"] is True


@pytest.mark.settings(shield_blocks=1)
async def test_the_threshold_is_a_setting(people: Any) -> None:
    """With ``shield_blocks`` at 1, one follow's block is enough."""
    vic, una, _ = await cast(people, 1)
    assert (await vic.get("/api/users/troll")).json()["shield"] is True
    assert (await una.get("/api/users/troll")).json()["shield"] is False


async def test_the_room_shield_costs_one_query_whatever_the_room_holds(
    people: Any, container: Any
) -> None:
    """The mark is computed by one grouped query per viewer for the whole room, not one
    per person in it: a snapshot reads the blocks once, however many people came in."""
    from sqlalchemy import event

    vic, _, troll = await cast(people, 3)
    host = await people.member("host")
    room = await create(host)
    await join(troll, room["id"])
    await join(vic, room["id"])
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = container.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await vic.get(f"/api/rooms/{room['id']}")
        few = [q for q in statements if "GROUP BY blocks.blocked_id" in q]
        for n in range(6):
            await join(await people.member(f"crowd{n}"), room["id"])
        statements.clear()
        snap = (await vic.get(f"/api/rooms/{room['id']}")).json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(few) == 1
    assert [q for q in statements if "GROUP BY blocks.blocked_id" in q] == few
    assert [m["username"] for m in snap["audience"] if m["shield"]] == ["troll"]
