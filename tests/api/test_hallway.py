"""S6 the hallway over HTTP: which live rooms you see, in which order, and what is hidden."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.clubkit import found, give_role
from tests.api.roomkit import block, bring_on_stage, create, follow, join, ok


async def hallway(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/hallway")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def room_ids(client: httpx.AsyncClient) -> list[str]:
    return [room["id"] for room in (await hallway(client))["rooms"]]


async def test_people_you_follow_on_stage_outrank_a_larger_room_of_strangers(
    people: Any,
) -> None:
    """A room with two people you follow on stage comes before a bigger room of strangers."""
    # Everyone signs in first: signing in moves the clock, which the room sweeper reads.
    ann, bea, cal, big_host = [await people.member(n) for n in ("ann", "bea", "cal", "big")]
    strangers = [await people.member(f"stranger{i}") for i in range(4)]
    await follow(ann, "bea")
    await follow(ann, "cal")
    small = (await create(bea, title="Small talk"))["id"]
    await join(cal, small)
    await bring_on_stage(bea, cal, small, "cal")

    big = (await create(big_host, title="Big show"))["id"]
    for stranger in strangers:
        await join(stranger, big)

    body = await hallway(ann)
    assert [r["id"] for r in body["rooms"]] == [small, big]
    first, second = body["rooms"]
    assert first["reason"] == "followed_on_stage"
    assert {p["username"] for p in first["stage"]} == {"bea", "cal"}
    assert first["score"] > second["score"]
    assert second["listeners"] == 4
    assert body["hidden_rooms"] == 0
    assert isinstance(body["events"], list)


async def test_someone_you_follow_listening_counts_less_than_on_stage(people: Any) -> None:
    """A followed person on stage ranks a room above one where a followed person listens."""
    ann, bea, cal, dan = [await people.member(n) for n in ("ann", "bea", "cal", "dan")]
    await follow(ann, "bea")
    await follow(ann, "cal")
    listening = (await create(dan, title="One"))["id"]
    await join(cal, listening)
    speaking = (await create(bea, title="Two"))["id"]
    body = await hallway(ann)
    assert [r["id"] for r in body["rooms"]] == [speaking, listening]
    assert body["rooms"][1]["reason"] == "followed_listening"


async def test_rooms_where_someone_you_blocked_speaks_are_hidden(people: Any) -> None:
    """A room with a blocked person on stage is counted in hidden_rooms, not listed; the
    same person only listening hides nothing."""
    ann, mal, host = [await people.member(n) for n in ("ann", "mal", "host")]
    await block(ann, "mal")
    hidden = (await create(mal, title="Mal's room"))["id"]
    shown = (await create(host, title="Host's room"))["id"]
    await join(mal, shown)

    body = await hallway(ann)
    assert [r["id"] for r in body["rooms"]] == [shown]
    assert body["hidden_rooms"] == 1
    assert hidden in await room_ids(mal)


async def test_closed_and_social_rooms_only_for_people_who_may_join(people: Any) -> None:
    """Closed rooms show only to the invited; social rooms to people a moderator follows."""
    host, friend, other = [await people.member(n) for n in ("host", "friend", "other")]
    await follow(host, "friend")
    await follow(friend, "host")
    await follow(other, "host")
    social = (await create(host, kind="social"))["id"]
    closed = (await create(host, kind="closed"))["id"]
    assert await room_ids(friend) == [social]
    assert await room_ids(other) == []
    await ok(host, closed, "ping", target="other")
    assert await room_ids(other) == [closed]


async def test_rooms_you_were_removed_from_are_not_listed(people: Any) -> None:
    """A moderator's removal keeps the room out of your hallway."""
    host, ann = await people.member("host"), await people.member("ann")
    room = (await create(host))["id"]
    await join(ann, room)
    assert await room_ids(ann) == [room]
    await ok(host, room, "remove", target="ann")
    assert await room_ids(ann) == []


async def test_topics_you_joined_before_lift_similar_rooms(people: Any) -> None:
    """Having joined a room about jazz, a new jazz room ranks above an otherwise equal one."""
    ann, old, a, b = [await people.member(n) for n in ("ann", "old", "a_host", "b_host")]
    before = (await create(old, title="Jazz improvisation"))["id"]
    await join(ann, before)
    await ok(ann, before, "leave")
    jazz = (await create(a, title="Jazz tonight"))["id"]
    cooking = (await create(b, title="Cooking tonight"))["id"]
    body = await hallway(ann)
    ids = [r["id"] for r in body["rooms"]]
    assert ids.index(jazz) < ids.index(cooking)
    assert body["rooms"][ids.index(jazz)]["reason"] == "topic"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_members_only_club_rooms_are_invisible_to_non_members(people: Any) -> None:
    """A club's members-only room shows to its members, not to followers or outsiders."""
    founder, member, fan, outsider = [
        await people.member(n) for n in ("founder", "member", "fan", "outsider")
    ]
    club = await found(founder)
    await give_role(founder, member, club["id"], "member", "member")
    await give_role(founder, fan, club["id"], "fan", "follower")
    r = await founder.post(
        "/api/rooms", json={"title": "Inside", "club": club["id"], "members_only": True}
    )
    assert r.status_code == 201, r.text
    room = r.json()["id"]
    assert await room_ids(member) == [room]
    assert await room_ids(fan) == []
    assert await room_ids(outsider) == []
    assert (await hallway(outsider))["hidden_rooms"] == 0


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_rooms_of_your_clubs_rank_higher(people: Any) -> None:
    """A public room of a club you belong to comes before a stranger's room."""
    founder, ann, stranger = [await people.member(n) for n in ("founder", "ann", "stranger")]
    club = await found(founder)
    await give_role(founder, ann, club["id"], "ann", "member")
    r = await founder.post("/api/rooms", json={"title": "Club night", "club": club["id"]})
    assert r.status_code == 201, r.text
    club_room = r.json()["id"]
    other = (await create(stranger, title="Elsewhere"))["id"]
    body = await hallway(ann)
    assert [x["id"] for x in body["rooms"]] == [club_room, other]
    assert body["rooms"][0]["reason"] == "club"


async def test_the_hallway_is_for_members(people: Any) -> None:
    """Waitlisted people get 403 not_a_member."""
    waiting = await people.sign_in("wait@example.org", username="waiting")
    r = await waiting.get("/api/hallway")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_a_member"
