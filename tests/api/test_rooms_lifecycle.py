"""S4 rooms over HTTP: creating, listing, joining rules, leaving, ending and the event log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import (
    block,
    cmd,
    code,
    create,
    events,
    follow,
    join,
    ok,
    roles,
    snap,
)


async def test_creator_is_moderator_on_stage_muted(people: Any) -> None:
    """Creating a room answers its snapshot with the creator as a muted moderator on stage."""
    mona = await people.member("mona")
    room = await create(mona, title="  Late   night  jazz ", kind="open", hand_raise="off")
    assert room["title"] == "Late night jazz"
    assert (room["kind"], room["hand_raise"], room["status"]) == ("open", "off", "live")
    assert [(m["username"], m["role"], m["muted"]) for m in room["stage"]] == [
        ("mona", "moderator", True)
    ]
    assert room["audience"] == [] and room["listeners"] == 0
    assert room["me"] == {
        "role": "moderator",
        "muted": True,
        "hand_raised": False,
        "invited_to_speak": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x" * 61},
        {"kind": "secret"},
        {"hand_raise": "sometimes"},
        {"title": 5},
        {"club": "x"},
    ],
)
async def test_create_rejects_bad_input(people: Any, body: dict[str, Any]) -> None:
    """Bad fields when creating a room are a 422 and create nothing."""
    mona = await people.member("mona")
    r = await mona.post("/api/rooms", json=body)
    assert r.status_code == 422, r.text
    assert (await mona.get("/api/rooms")).json()["items"] == []


async def test_create_rejects_control_characters(people: Any) -> None:
    """A title with control characters is a 400."""
    mona = await people.member("mona")
    r = await mona.post("/api/rooms", json={"title": "a\x00b"})
    assert r.status_code == 400 and code(r) == "control_characters"


async def test_waitlisted_people_cannot_create_or_join(people: Any) -> None:
    """Only members open or enter rooms (403 not_a_member)."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    newcomer = await people.sign_in("new@example.org", username="newbie")
    r = await newcomer.post("/api/rooms", json={})
    assert r.status_code == 403 and code(r) == "not_a_member"
    r = await newcomer.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and code(r) == "not_a_member"


async def test_joining_puts_you_in_the_audience_muted(people: Any) -> None:
    """A newcomer is a muted listener; joining again keeps their place."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    room = await join(lee, rid)
    assert room["me"]["role"] == "listener" and room["me"]["muted"] is True
    assert [(m["username"], m["role"], m["muted"]) for m in room["audience"]] == [
        ("lee", "listener", True)
    ]
    await ok(lee, rid, "raise_hand")
    again = await join(lee, rid)
    assert again["me"]["hand_raised"] is True and again["listeners"] == 1


async def test_live_rooms_lists_only_rooms_you_may_join(people: Any) -> None:
    """GET /api/rooms lists open rooms, social rooms of people who follow you, not closed ones."""
    mona, lee = await people.member("mona"), await people.member("lee")
    open_ = await create(mona, title="Open")
    closed = await create(mona, title="Closed", kind="closed")
    social = await create(mona, title="Social", kind="social")
    r = await lee.get("/api/rooms")
    assert [i["id"] for i in r.json()["items"]] == [open_["id"]]
    await follow(mona, "lee")
    items = (await lee.get("/api/rooms")).json()["items"]
    assert {i["id"] for i in items} == {open_["id"], social["id"]}
    assert closed["id"] not in {i["id"] for i in items}
    assert items[0]["stage"][0]["username"] == "mona" and items[0]["listeners"] == 0
    assert (await lee.get("/api/rooms", params={"limit": 0})).status_code == 422


async def test_social_room_admits_people_a_moderator_follows(people: Any) -> None:
    """A social room lets in people a moderator follows, and refuses others."""
    mona, lee, zed = [await people.member(n) for n in ("mona", "lee", "zed")]
    await follow(mona, "lee")
    rid = (await create(mona, kind="social"))["id"]
    await join(lee, rid)
    r = await zed.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you"
    r = await zed.get(f"/api/rooms/{rid}")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you"


async def test_closed_room_admits_only_people_pinged_in(people: Any) -> None:
    """A ping is an invitation into a closed room; only followers of the pinger can be pinged."""
    mona, lee, zed = [await people.member(n) for n in ("mona", "lee", "zed")]
    rid = (await create(mona, kind="closed"))["id"]
    r = await lee.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you"
    r = await cmd(mona, rid, "ping", target="lee")
    assert r.status_code == 403 and code(r) == "not_a_follower"
    r = await cmd(mona, rid, "ping", target="ghost")
    assert r.status_code == 403 and code(r) == "not_a_follower"
    await follow(lee, "mona")
    await ok(mona, rid, "ping", target="lee")
    await join(lee, rid)
    r = await cmd(mona, rid, "ping", target="lee")
    assert r.status_code == 409 and code(r) == "already_in_room"
    assert (await zed.post(f"/api/rooms/{rid}/join")).status_code == 403


async def test_opening_a_room_never_narrows(people: Any) -> None:
    """A closed room can become social then open; never back, and never the same again."""
    mona, zed = await people.member("mona"), await people.member("zed")
    rid = (await create(mona, kind="closed"))["id"]
    await ok(mona, rid, "set_kind", kind="social")
    r = await cmd(mona, rid, "set_kind", kind="closed")
    assert r.status_code == 409 and code(r) == "cannot_narrow"
    r = await cmd(mona, rid, "set_kind", kind="social")
    assert r.status_code == 409 and code(r) == "unchanged"
    await ok(mona, rid, "set_kind", kind="open")
    assert (await join(zed, rid))["kind"] == "open"
    r = await cmd(mona, rid, "set_kind", kind="social")
    assert r.status_code == 409 and code(r) == "cannot_narrow"


async def test_removed_people_cannot_come_back(people: Any) -> None:
    """Someone a moderator removed is out and may not rejoin or be pinged back."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await ok(mona, rid, "remove", target="lee")
    assert "lee" not in roles(await snap(mona, rid))
    r = await lee.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and code(r) == "removed_from_room"
    await follow(lee, "mona")
    r = await cmd(mona, rid, "ping", target="lee")
    assert r.status_code == 403 and code(r) == "removed_from_room"
    r = await cmd(mona, rid, "remove", target="lee")
    assert r.status_code == 404 and code(r) == "not_in_room"
    r = await cmd(mona, rid, "remove", target="mona")
    assert r.status_code == 400 and code(r) == "cannot_remove_self"


async def test_blocked_by_a_moderator_cannot_join(people: Any) -> None:
    """A person a moderator blocked cannot join the room, nor see it listed."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await block(mona, "lee")
    r = await lee.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and code(r) == "blocked_by_moderator"
    assert (await lee.get("/api/rooms")).json()["items"] == []


@pytest.mark.settings(room_listener_capacity=2)
async def test_full_room_says_so(people: Any) -> None:
    """Past the listener capacity, joining is 409 room_full; a listener leaving makes room."""
    mona = await people.member("mona")
    a, b, c = [await people.member(n) for n in ("ann", "bob", "cat")]
    rid = (await create(mona))["id"]
    await join(a, rid)
    await join(b, rid)
    r = await c.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 409 and code(r) == "room_full"
    assert "cat" not in roles(await snap(mona, rid))
    await ok(a, rid, "leave")
    await join(c, rid)


async def test_ending_the_room(people: Any) -> None:
    """After a moderator ends the room every command and join is 410 room_ended."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await ok(mona, rid, "end")
    room = await snap(mona, rid)
    assert room["status"] == "ended" and room["stage"] == [] and room["audience"] == []
    for r in [
        await cmd(mona, rid, "rename", title="x"),
        await cmd(lee, rid, "raise_hand"),
        await lee.post(f"/api/rooms/{rid}/join"),
        await lee.post(f"/api/rooms/{rid}/leave"),
    ]:
        assert r.status_code == 410 and code(r) == "room_ended", r.text
    assert (await lee.get("/api/rooms")).json()["items"] == []


async def test_room_ends_when_empty(people: Any) -> None:
    """When the last person leaves, the room ends."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    r = await mona.post(f"/api/rooms/{rid}/leave")
    assert r.status_code == 200
    assert (await snap(mona, rid))["status"] == "ended"


async def test_rename_and_hand_setting(people: Any) -> None:
    """A moderator renames the room and changes its hand-raise setting."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    await ok(mona, rid, "rename", title=" New  name ")
    await ok(mona, rid, "set_hand_raise", mode="followed")
    room = await snap(mona, rid)
    assert (room["title"], room["hand_raise"]) == ("New name", "followed")


async def test_events_are_numbered_and_resumable(people: Any) -> None:
    """Events are numbered 1, 2, 3 ... and ?after= resumes just after a given number; a
    listener coming and going is not among them (the audience is told in digests)."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await ok(mona, rid, "rename", title="Two")
    await ok(lee, rid, "leave")
    log = await events(mona, rid)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert [e["name"] for e in log] == [
        "room.created",
        "member.joined",
        "room.updated",
    ]
    assert log[2]["data"] == {"title": "Two"}
    assert (await snap(mona, rid))["seq"] == len(log)
    assert await events(mona, rid, after=2) == log[2:]
    assert await events(mona, rid, after=len(log)) == []
    r = await mona.get(f"/api/rooms/{rid}/events", params={"after": len(log) + 1})
    assert r.status_code == 400 and code(r) == "invalid_seq"
    r = await mona.get(f"/api/rooms/{rid}/events", params={"after": -1})
    assert r.status_code == 422


@pytest.mark.settings(room_event_backlog=10)
async def test_far_behind_gets_a_snapshot(people: Any) -> None:
    """A client too far behind gets a snapshot instead of events."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    for i in range(12):
        await ok(mona, rid, "rename", title=f"Name {i}")
    r = await mona.get(f"/api/rooms/{rid}/events", params={"after": 0})
    body = r.json()
    assert "events" not in body and body["snapshot"]["title"] == "Name 11"
    assert len(await events(mona, rid, after=4)) == 10


async def test_hand_events_are_seen_only_by_moderators_and_the_hand(people: Any) -> None:
    """Hand and invitation events reach moderators and the person concerned, nobody else."""
    mona, lee, zed = [await people.member(n) for n in ("mona", "lee", "zed")]
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await join(zed, rid)
    await ok(lee, rid, "raise_hand")
    await ok(mona, rid, "invite_to_speak", target="lee")
    names = [e["name"] for e in await events(mona, rid)]
    assert "hand.raised" in names and "speak.invited" in names
    assert {"hand.raised", "speak.invited"} <= {e["name"] for e in await events(lee, rid)}
    assert {"hand.raised", "speak.invited"}.isdisjoint(e["name"] for e in await events(zed, rid))
