"""S3 search over HTTP (GET /api/search): people, live rooms, clubs and upcoming events,
each as the person may see it: blocks, closed and members-only rooms, members-only events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import roomkit
from tests.api.clubkit import found, give_role
from tests.api.test_events import schedule


async def search(client: Any, q: str) -> dict[str, list[str]]:
    r = await client.get("/api/search", params={"q": q})
    assert r.status_code == 200, r.text
    body = r.json()
    return {
        "people": [p["username"] for p in body["people"]],
        "rooms": [x["title"] for x in body["rooms"]],
        "clubs": [c["name"] for c in body["clubs"]],
        "events": [e["name"] for e in body["events"]],
    }


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_finds_each_kind_by_word_prefixes(people: Any) -> None:
    """A query finds people, live rooms by title, clubs and events by name or description."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await people.member("jazzman")
    await roomkit.create(bob, title="Late night jazz talk")
    await found(bob, name="Jazz Lovers", description="Records and stories")
    await schedule(bob, name="Bebop night", description="All that jazz, live")
    await schedule(bob, name="Poetry hour")

    got = await search(ada, "jaz")
    assert got == {
        "people": ["jazzman"],
        "rooms": ["Late night jazz talk"],
        "clubs": ["Jazz Lovers"],
        "events": ["Bebop night"],
    }
    assert (await search(ada, "night"))["events"] == ["Bebop night"]
    assert (await search(ada, "late JAZZ"))["rooms"] == ["Late night jazz talk"]
    assert await search(ada, "nothing matches") == {
        "people": [],
        "rooms": [],
        "clubs": [],
        "events": [],
    }


async def test_a_room_is_found_while_live_under_its_current_title(people: Any) -> None:
    """A new title is found and the old one is not; an ended room is found no more."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    room = await roomkit.create(bob, title="Gardening")
    assert (await search(ada, "garden"))["rooms"] == ["Gardening"]
    await roomkit.ok(bob, room["id"], "rename", title="Beekeeping")
    assert (await search(ada, "garden"))["rooms"] == []
    assert (await search(ada, "bee"))["rooms"] == ["Beekeeping"]
    await roomkit.ok(bob, room["id"], "end")
    assert (await search(ada, "bee"))["rooms"] == []


async def test_rooms_the_person_may_not_see_are_not_found(people: Any) -> None:
    """Closed rooms, rooms whose moderator blocked you and rooms where someone you
    blocked is on stage are left out, as from the hallway."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cyd = await people.member("cyd")
    await roomkit.create(bob, title="Closed circle", kind="closed")
    await roomkit.create(cyd, title="Circle of friends")
    assert (await search(ada, "circle"))["rooms"] == ["Circle of friends"]
    await roomkit.block(ada, "cyd")
    assert (await search(ada, "circle"))["rooms"] == []
    assert (await search(ada, "cyd"))["people"] == []
    await roomkit.create(bob, title="Open circle")
    await roomkit.block(bob, "ada")
    assert (await search(ada, "circle"))["rooms"] == []
    assert sorted((await search(bob, "circle"))["rooms"]) == [
        "Circle of friends",
        "Closed circle",
        "Open circle",
    ]


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_events_members_only_cancelled_and_blocked_hosts(people: Any) -> None:
    """Members-only events only for the club's members; cancelled events and events hosted
    by someone with a block either way are not found."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cyd = await people.member("cyd")
    club = await found(bob, name="Chess")
    await schedule(bob, name="Chess members night", club=club["id"], members_only=True)
    off = await schedule(bob, name="Chess called off")
    await schedule(cyd, name="Chess in the park")
    r = await bob.post(f"/api/events/{off['id']}/cancel")
    assert r.status_code == 200, r.text

    assert (await search(ada, "chess"))["events"] == ["Chess in the park"]
    await give_role(bob, ada, club["id"], "ada", "member")
    assert sorted((await search(ada, "chess"))["events"]) == [
        "Chess in the park",
        "Chess members night",
    ]
    await roomkit.block(cyd, "ada")
    assert (await search(ada, "chess"))["events"] == ["Chess members night"]


async def test_a_query_without_words_is_refused(people: Any, make_client: Any) -> None:
    """Only punctuation is ``query_too_short``; visitors and the waitlist are refused."""
    ada = await people.member("ada")
    r = await ada.get("/api/search", params={"q": "*** ;"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "query_too_short"
    r = await ada.get("/api/search", params={"q": "a" * 201})
    assert r.status_code == 422
    r = await make_client().get("/api/search", params={"q": "ada"})
    assert r.status_code == 401
