"""Issue 11 item 7: profiles, search and people lists are read-limited, members only where
they list people, and a waitlisted person's profile is not public."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.clubkit import found
from tests.api.roomkit import code, follow


def behind(make_client: Any, member: httpx.AsyncClient, ip: str) -> httpx.AsyncClient:
    """The same person's session, used from another client address."""
    client: httpx.AsyncClient = make_client(ip=ip)
    client.headers["Authorization"] = member.headers["Authorization"]
    return client


def refused(r: httpx.Response) -> bool:
    return r.status_code == 429 and code(r) == "rate_limited" and int(r.headers["Retry-After"]) > 0


async def test_a_visitor_cannot_read_profile_after_profile(people: Any, make_client: Any) -> None:
    """A visitor's profile lookups are capped per address (60 in five minutes): the 61st is
    429 rate_limited with Retry-After; another address is not concerned."""
    await people.member("ada")
    visitor = make_client(ip="203.0.113.7")
    for _ in range(60):
        assert (await visitor.get("/api/users/ada")).status_code == 200
    assert refused(await visitor.get("/api/users/ada"))
    assert refused(await visitor.get("/api/users/nobody_here"))
    assert (await make_client(ip="203.0.113.8").get("/api/users/ada")).status_code == 200


@pytest.mark.settings(limit_visitor_reads_per_ip="3/300")
async def test_an_ipv6_visitor_is_counted_by_its_64(people: Any, make_client: Any) -> None:
    """Addresses of one IPv6 /64 share the visitors' allowance."""
    await people.member("ada")
    for host in ("1", "2", "3"):
        r = await make_client(ip=f"2001:db8:1:2::{host}").get("/api/users/ada")
        assert r.status_code == 200
    assert refused(await make_client(ip="2001:db8:1:2::99").get("/api/users/ada"))
    assert (await make_client(ip="2001:db8:1:3::1").get("/api/users/ada")).status_code == 200


@pytest.mark.settings(club_found_min_rooms_hosted=0, limit_reads_per_user="8/300")
async def test_a_members_reads_are_counted_together(people: Any, make_client: Any) -> None:
    """Profiles, search, follower and following lists and club members draw on one allowance
    per person, wherever they read from."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    c = await found(ada)
    reads = [
        "/api/users/ada",
        "/api/users/search?q=ad",
        "/api/users/ada/followers",
        "/api/users/ada/following",
        f"/api/clubs/{c['id']}/members",
        "/api/clubs/search?q=jazz",
    ]
    for path in reads:
        r = await bob.get(path)
        assert r.status_code == 200, (path, r.text)
    elsewhere = behind(make_client, bob, "198.51.100.20")
    for path in reads[:2]:
        assert (await elsewhere.get(path)).status_code == 200
    for path in reads:
        assert refused(await bob.get(path)), path
    assert (await ada.get("/api/users/bob")).status_code == 200


@pytest.mark.settings(limit_reads_per_ip="4/300")
async def test_one_address_is_counted_for_everyone_behind_it(people: Any, make_client: Any) -> None:
    """Members reading from one address share its allowance too: many accounts on one
    machine do not multiply it."""
    await people.member("ada")
    sessions = [
        behind(make_client, await people.member(name), "198.51.100.30")
        for name in ("bob", "cyd", "dan")
    ]
    for i in range(4):
        assert (await sessions[i % 3].get("/api/users/ada")).status_code == 200
    for s in sessions:
        assert refused(await s.get("/api/users/ada"))


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_search_and_lists_are_for_members(people: Any) -> None:
    """Someone on the waitlist (any email address gets there) cannot search or list people."""
    ada = await people.member("ada")
    c = await found(ada)
    wally = await people.sign_in("wally@example.org", username="wally")
    assert (await wally.get("/api/me")).json()["status"] == "waitlisted"
    for path in (
        "/api/users/search?q=ad",
        "/api/users/ada/followers",
        "/api/users/ada/following",
        f"/api/clubs/{c['id']}/members",
        "/api/clubs/search?q=jazz",
    ):
        r = await wally.get(path)
        assert r.status_code == 403 and code(r) == "not_a_member", path


async def test_a_waitlisted_persons_profile_is_not_public(people: Any, client: Any) -> None:
    """A waitlisted person's profile and lists are 404 to visitors and members, as for
    nobody; they and staff see it."""
    ada = await people.member("ada")
    root = await people.admin()
    wally = await people.sign_in("wally@example.org", username="wally")
    await follow(ada, "wally")
    nobody = await client.get("/api/users/nobody_at_all")
    for who in (client, ada):
        r = await who.get("/api/users/wally")
        assert r.status_code == 404 and code(r) == code(nobody) == "user_not_found"
    for path in ("/api/users/wally/followers", "/api/users/wally/following"):
        assert (await ada.get(path)).status_code == 404
    assert (await ada.get("/api/users/ada/following")).json()["items"] == []
    assert (await ada.get("/api/users/search?q=wally")).json()["items"] == []
    for who in (wally, root):
        r = await who.get("/api/users/wally")
        assert r.status_code == 200 and r.json()["username"] == "wally"
