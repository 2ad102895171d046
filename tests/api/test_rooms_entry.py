"""Who may enter a room, asked every way in: the room list, the hallway, the snapshot and
joining give the same answer, case by case."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.clubkit import found, give_role
from tests.api.roomkit import block, code, create, follow, join, ok


async def entry(client: httpx.AsyncClient, room_id: str) -> str | None:
    """None when the person gets in, else the refusal's code; every way in must agree
    (joining last, since it lets them in)."""
    r = await client.get("/api/rooms")
    assert r.status_code == 200, r.text
    listed = room_id in [item["id"] for item in r.json()["items"]]
    r = await client.get("/api/hallway")
    assert r.status_code == 200, r.text
    in_hallway = room_id in [room["id"] for room in r.json()["rooms"]]
    snapshot = await client.get(f"/api/rooms/{room_id}")
    joined = await client.post(f"/api/rooms/{room_id}/join")
    if joined.status_code == 200:
        assert listed and in_hallway and snapshot.status_code == 200, snapshot.text
        return None
    assert joined.status_code == 403, joined.text
    assert not listed and not in_hallway
    assert snapshot.status_code == 403 and code(snapshot) == code(joined), snapshot.text
    return code(joined)


async def test_an_open_room_lets_everyone_in(people: Any) -> None:
    """Anyone may enter an open room, and sees it everywhere."""
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    assert await entry(ann, room) is None


async def test_a_social_room_lets_in_people_a_moderator_follows(people: Any) -> None:
    """A social room is open to the people its moderator follows and to nobody else."""
    host, friend, other = [await people.member(n) for n in ("host", "friend", "other")]
    await follow(host, "friend")
    room = (await create(host, kind="social"))["id"]
    assert await entry(other, room) == "room_not_open_to_you"
    assert await entry(friend, room) is None


async def test_a_closed_room_lets_in_the_invited(people: Any) -> None:
    """A closed room refuses everyone until they are pinged in."""
    host, guest, other = [await people.member(n) for n in ("host", "guest", "other")]
    await follow(guest, "host")
    room = (await create(host, kind="closed"))["id"]
    assert await entry(guest, room) == "room_not_open_to_you"
    await ok(host, room, "ping", target="guest")
    assert await entry(guest, room) is None
    assert await entry(other, room) == "room_not_open_to_you"


async def test_someone_removed_is_refused_everywhere(people: Any) -> None:
    """After a moderator's removal the room is out of reach every way, even when open."""
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    await join(ann, room)
    await ok(host, room, "remove", target="ann")
    assert await entry(ann, room) == "removed_from_room"


async def test_someone_a_moderator_blocked_is_refused_everywhere(people: Any) -> None:
    """A block by a moderator keeps the person out of the room, invited or not."""
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    room = (await create(host, kind="closed"))["id"]
    await ok(host, room, "ping", target="ann")
    await block(host, "ann")
    assert await entry(ann, room) == "blocked_by_moderator"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_a_members_only_room_is_for_the_clubs_members(people: Any) -> None:
    """Club members get in; followers and outsiders are refused; its creator gets back in
    while a member of the club, and is refused once they left the club."""
    founder, leader, member, fan, outsider = [
        await people.member(n) for n in ("founder", "leader", "member", "fan", "outsider")
    ]
    club = (await found(founder))["id"]
    await give_role(founder, leader, club, "leader", "leader")
    await give_role(founder, member, club, "member", "member")
    await give_role(founder, fan, club, "fan", "follower")
    room = (await create(leader, title="Inside", club=club, members_only=True))["id"]

    assert await entry(fan, room) == "club_members_only"
    assert await entry(outsider, room) == "club_members_only"
    assert await entry(member, room) is None

    await ok(leader, room, "leave")
    assert await entry(leader, room) is None
    await ok(leader, room, "leave")
    r = await leader.post(f"/api/clubs/{club}/leave")
    assert r.status_code == 200, r.text
    assert await entry(leader, room) == "club_members_only"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_a_closed_members_only_room_needs_both(people: Any) -> None:
    """The room's kind still applies to members; an invitation does not open it to others."""
    founder, member, outsider = [await people.member(n) for n in ("founder", "member", "out")]
    club = (await found(founder))["id"]
    await give_role(founder, member, club, "member", "member")
    await follow(member, "founder")
    await follow(outsider, "founder")
    room = (await create(founder, club=club, members_only=True, kind="closed"))["id"]
    assert await entry(member, room) == "room_not_open_to_you"
    await ok(founder, room, "ping", target="out")
    assert await entry(outsider, room) == "club_members_only"
    await ok(founder, room, "ping", target="member")
    assert await entry(member, room) is None
