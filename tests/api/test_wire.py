"""The shapes on the wire that several areas share: one person, everywhere."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.api.clubkit import found
from tests.api.roomkit import create, events, follow, join, snap

PERSON = {"username", "display_name", "avatar_url"}


async def got(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_a_person_has_one_shape_on_every_endpoint(people: Any) -> None:
    """Someone's username, display name and avatar read the same in people lists, their
    profile, a room's stage and events, the room list, the preview, the hallway, an
    event's hosts, a club's founder and a notification's actor."""
    host = await people.member("host")
    bob = await people.member("bob")
    r = await host.patch("/api/me", json={"display_name": "Hostess"})
    assert r.status_code == 200, r.text
    r = await host.put("/api/me/avatar", files={"file": ("a.png", png(), "image/png")})
    assert r.status_code == 200, r.text
    me = r.json()
    person = {"username": "host", "display_name": "Hostess", "avatar_url": me["avatar_url"]}
    assert person["avatar_url"]

    await follow(host, "bob")
    await follow(bob, "host")
    room = await create(host, title="Jazz tonight")
    await join(bob, room["id"])
    club = await found(host, name="Night Owls")
    when = (people.clock.now() + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    r = await host.post(
        "/api/events",
        json={"name": "Later", "starts_at": when.isoformat(), "time_zone": "UTC"},
    )
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]

    seen: dict[str, dict[str, Any]] = {}
    seen["followers"] = (await got(bob, "/api/users/bob/followers"))["items"][0]
    seen["following"] = (await got(bob, "/api/users/bob/following"))["items"][0]
    seen["search"] = (await got(bob, "/api/users/search", q="host"))["items"][0]
    profile = await got(bob, "/api/users/host")
    seen["profile"] = {k: profile[k] for k in PERSON}
    seen["stage"] = (await snap(bob, room["id"]))["stage"][0]
    joined = [e for e in await events(bob, room["id"]) if e["name"] == "member.joined"]
    seen["member.joined"] = joined[0]["data"]
    seen["rooms"] = (await got(bob, "/api/rooms"))["items"][0]["stage"][0]
    seen["preview"] = (await got(bob, f"/api/rooms/{room['id']}/preview"))["stage"][0]
    seen["hallway"] = (await got(bob, "/api/hallway"))["rooms"][0]["stage"][0]
    seen["event host"] = (await got(bob, f"/api/events/{event_id}"))["hosts"][0]
    seen["event preview"] = (await got(bob, f"/api/events/{event_id}/preview"))["hosts"][0]
    seen["hallway event"] = (await got(bob, "/api/hallway"))["events"][0]["hosts"][0]
    seen["club founder"] = (await got(bob, f"/api/clubs/{club['id']}"))["founder"]
    items = (await got(bob, "/api/notifications", limit=100))["items"]
    seen["notification actor"] = next(i for i in items if i["name"] == "user.followed")["actor"]

    extras = {
        "followers": {"bio", "status", "you_follow", "since"},
        "following": {"bio", "status", "you_follow", "since"},
        "search": {"bio", "status", "you_follow"},
        "stage": {"role", "muted", "away", "group", "verified", "shield"},
        "member.joined": {"role", "muted", "away", "group", "verified"},
        "rooms": {"role"},
        "preview": {"role"},
        "hallway": {"role"},
    }
    for where, shown in seen.items():
        assert set(shown) == PERSON | extras.get(where, set()), where
        assert {k: shown[k] for k in PERSON} == person, where
