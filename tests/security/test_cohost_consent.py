"""Issue 11 item 8: naming someone a co-host invites them; until they accept they are no host."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.roomkit import code, follow, join, roles

EVENT = {"name": "Bebop night", "starts_at": "2026-03-10T20:00", "time_zone": "Europe/Paris"}


async def names(client: httpx.AsyncClient) -> list[str]:
    """The kinds of the event notifications in the person's inbox."""
    r = await client.get("/api/notifications", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [n["name"] for n in r.json()["items"] if n["name"].startswith("event.")]


async def listed(client: httpx.AsyncClient, path: str) -> list[Any]:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["items"]]


async def hosts(client: httpx.AsyncClient, event_id: Any) -> list[str]:
    r = await client.get(f"/api/events/{event_id}")
    assert r.status_code == 200, r.text
    return [h["username"] for h in r.json()["hosts"]]


async def feed(client: httpx.AsyncClient, anyone: httpx.AsyncClient) -> bytes:
    url = (await client.post("/api/me/calendar-feed")).json()["url"]
    r = await anyone.get(url.split("townhall.test", 1)[1])
    assert r.status_code == 200, r.text
    return r.content


async def scene(people: Any) -> tuple[dict[str, httpx.AsyncClient], dict[str, Any]]:
    """ada schedules an event naming bob a co-host; fan follows bob."""
    c = {name: await people.member(name) for name in ("ada", "bob", "fan")}
    await follow(c["fan"], "bob")
    r = await c["ada"].post("/api/events", json={**EVENT, "cohosts": ["bob"]})
    assert r.status_code == 201, r.text
    return c, r.json()


async def test_a_named_cohost_is_invited_and_nothing_else(people: Any, client: Any) -> None:
    """Named, bob gets an invitation; he is not listed, his feed and his followers know nothing."""
    c, e = await scene(people)
    assert [h["username"] for h in e["hosts"]] == ["ada"]
    assert [h["username"] for h in e["invited"]] == ["bob"]
    assert await names(c["bob"]) == ["event.cohost_invited"]
    assert "event.scheduled" not in await names(c["fan"])
    assert await listed(c["bob"], "/api/events/mine") == []
    assert await listed(c["fan"], "/api/events/upcoming") == []
    assert b"Bebop night" not in await feed(c["bob"], client)
    seen = (await c["bob"].get(f"/api/events/{e['id']}")).json()
    assert (seen["is_host"], seen["invitation"], seen["invited"]) == (False, True, [])
    assert (await c["fan"].get(f"/api/events/{e['id']}")).json()["invitation"] is False


async def test_an_invited_cohost_has_no_host_powers(people: Any) -> None:
    """Before accepting, bob cannot start the event and joins its room as a listener."""
    c, e = await scene(people)
    r = await c["bob"].post(f"/api/events/{e['id']}/start")
    assert r.status_code == 403 and code(r) == "not_event_host"
    people.clock.advance(days=9, hours=7)
    room = (await c["ada"].post(f"/api/events/{e['id']}/start")).json()
    assert roles(await join(c["bob"], room["id"]))["bob"] == "listener"


async def test_accepting_makes_a_host(people: Any, client: Any) -> None:
    """After accepting, bob is listed, the event is in his feed, his followers are told, and
    he becomes a moderator when he joins its room."""
    c, e = await scene(people)
    r = await c["bob"].post(f"/api/events/{e['id']}/cohost/accept")
    assert r.status_code == 200, r.text
    assert (r.json()["is_host"], r.json()["invitation"]) == (True, False)
    assert await hosts(c["fan"], e["id"]) == ["ada", "bob"]
    assert "event.scheduled" in await names(c["fan"])
    assert await listed(c["bob"], "/api/events/mine") == [e["id"]]
    assert await listed(c["fan"], "/api/events/upcoming") == [e["id"]]
    assert b"Bebop night" in await feed(c["bob"], client)
    people.clock.advance(days=9, hours=7)
    room = (await c["ada"].post(f"/api/events/{e['id']}/start")).json()
    assert roles(await join(c["bob"], room["id"]))["bob"] == "moderator"


async def test_declining_is_final_for_that_event(people: Any) -> None:
    """A declined invitation is gone; naming bob again does not invite him again."""
    c, e = await scene(people)
    r = await c["bob"].post(f"/api/events/{e['id']}/cohost/decline")
    assert r.status_code == 200, r.text
    assert r.json()["invitation"] is False
    again = await c["bob"].post(f"/api/events/{e['id']}/cohost/accept")
    assert again.status_code == 404 and code(again) == "cohost_invitation_not_found"
    r = await c["ada"].patch(f"/api/events/{e['id']}", json={"cohosts": ["bob"]})
    assert r.status_code == 200, r.text
    assert (r.json()["hosts"], r.json()["invited"]) == ([r.json()["hosts"][0]], [])
    assert await names(c["bob"]) == ["event.cohost_invited"]


async def test_only_the_invited_answer(people: Any) -> None:
    """Someone not invited cannot accept; the creator is no co-host to decline."""
    c, e = await scene(people)
    r = await c["fan"].post(f"/api/events/{e['id']}/cohost/accept")
    assert r.status_code == 404 and code(r) == "cohost_invitation_not_found"
    r = await c["ada"].post(f"/api/events/{e['id']}/cohost/decline")
    assert r.status_code == 404 and code(r) == "cohost_invitation_not_found"
    assert await hosts(c["ada"], e["id"]) == ["ada"]
