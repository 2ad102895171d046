"""S4 presence over HTTP: silent members go away then out; rooms end without moderators."""

from __future__ import annotations

from typing import Any

from tests.api.roomkit import bring_on_stage, create, events, join, ok, roles, snap
from townhall.app import Container


async def test_silent_member_is_marked_away_then_removed(people: Any, container: Container) -> None:
    """A listener with no sign of life is away after the timeout, out after the reconnect window."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    clock = people.clock
    clock.advance(seconds=container.settings.room_presence_timeout_seconds + 1)
    await join(mona, rid)  # mona is alive: joining again is a sign of life
    await container.rooms.sweep()
    room = await snap(mona, rid)
    assert [(m["username"], m["away"]) for m in room["audience"]] == [("lee", True)]
    assert room["stage"][0]["away"] is False
    clock.advance(seconds=container.settings.room_reconnect_seconds + 1)
    await join(mona, rid)
    await container.rooms.sweep()
    assert roles(await snap(mona, rid)) == {"mona": "moderator"}
    # A listener's presence is the audience's state, told in digests, not in the log.
    names = [e["name"] for e in await events(mona, rid)]
    assert not {"member.away", "member.left"} & set(names)


async def test_away_member_who_returns_is_back(people: Any, container: Container) -> None:
    """A member marked away who shows a sign of life again is back, with their role kept."""
    mona, sam = await people.member("mona"), await people.member("sam")
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    people.clock.advance(seconds=container.settings.room_presence_timeout_seconds + 1)
    await join(mona, rid)
    await container.rooms.sweep()
    assert {m["username"]: m["away"] for m in (await snap(mona, rid))["stage"]}["sam"] is True
    room = await join(sam, rid)
    assert room["me"]["role"] == "speaker"
    assert all(m["away"] is False for m in room["stage"])
    assert "member.back" in [e["name"] for e in await events(mona, rid)]


async def test_room_ends_after_grace_when_last_moderator_leaves(
    people: Any, container: Container
) -> None:
    """With no moderator left the room stays up for the grace period, then ends."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await ok(mona, rid, "leave")
    grace = container.settings.room_moderator_grace_seconds
    people.clock.advance(seconds=grace - 1)
    await join(lee, rid)
    await container.rooms.sweep()
    assert (await snap(lee, rid))["status"] == "live"
    people.clock.advance(seconds=2)
    await join(lee, rid)
    await container.rooms.sweep()
    room = await snap(lee, rid)
    assert room["status"] == "ended"
    assert (await events(lee, rid, after=room["seq"] - 1))[0]["data"] == {"reason": "no_moderator"}


async def test_a_new_moderator_within_grace_saves_the_room(
    people: Any, container: Container
) -> None:
    """A moderator made before the grace period ends keeps the room alive."""
    mona, sam = await people.member("mona"), await people.member("sam")
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(mona, rid, "make_moderator", target="sam")
    await ok(sam, rid, "remove_moderator", target="sam")
    people.clock.advance(seconds=30)
    await ok(mona, rid, "make_moderator", target="sam")
    await ok(mona, rid, "leave")
    people.clock.advance(seconds=container.settings.room_moderator_grace_seconds + 1)
    await join(sam, rid)
    await container.rooms.sweep()
    assert (await snap(sam, rid))["status"] == "live"


async def test_vanished_moderator_ends_the_room_after_grace(
    people: Any, container: Container
) -> None:
    """A moderator whose connection died is away, then gone; the room then ends."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    s = container.settings
    for _ in range(3):
        people.clock.advance(seconds=s.room_presence_timeout_seconds + 1)
        await join(lee, rid)
        await container.rooms.sweep()
    assert (await snap(lee, rid))["status"] == "live"
    people.clock.advance(seconds=s.room_moderator_grace_seconds)
    await join(lee, rid)
    await container.rooms.sweep()
    await container.rooms.sweep()
    assert (await snap(lee, rid))["status"] == "ended"


async def test_room_ends_when_everyone_has_gone(people: Any, container: Container) -> None:
    """When every member has vanished, the room ends."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    people.clock.advance(seconds=container.settings.room_presence_timeout_seconds + 1)
    await container.rooms.sweep()
    people.clock.advance(seconds=container.settings.room_moderator_grace_seconds + 1)
    await container.rooms.sweep()
    room = await snap(mona, rid)
    assert room["status"] == "ended" and room["stage"] == []
