"""Every paginated list walks to its end, page by page, with nothing repeated or missed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.api.clubkit import found
from tests.api.roomkit import block, create, follow, join
from tests.api.test_events import EVENT
from townhall.security import email_hash

pytestmark = pytest.mark.settings(
    club_found_min_rooms_hosted=0, limit_club_creations_per_user="100/86400"
)

FANS = ("fan_a", "fan_b", "fan_c", "fan_d", "fan_e")
# Five items on pages of two: two full pages and a last one, so every page edge is crossed.
PAGE = 2

# A list: who reads it, its path, and what each item is known by.
Listing = tuple[httpx.AsyncClient, str, Callable[[dict[str, Any]], Any]]


def by_name(item: dict[str, Any]) -> Any:
    return item["username"]


def by_id(item: dict[str, Any]) -> Any:
    return item["id"]


async def members(people: Any) -> tuple[httpx.AsyncClient, list[httpx.AsyncClient]]:
    """tess and her five fans; then the clock stands still, so what they do next ties."""
    tess = await people.member("tess")
    return tess, [await people.member(name) for name in FANS]


async def followers(people: Any) -> Listing:
    tess, fans = await members(people)
    for fan in fans:
        await follow(fan, "tess")
    return tess, "/api/users/tess/followers", by_name


async def following(people: Any) -> Listing:
    tess, _ = await members(people)
    for name in FANS:
        await follow(tess, name)
    return tess, "/api/users/tess/following", by_name


async def blocks(people: Any) -> Listing:
    tess, _ = await members(people)
    for name in FANS:
        await block(tess, name)
    return tess, "/api/me/blocks", by_name


async def notifications(people: Any) -> Listing:
    tess, fans = await members(people)
    for fan in fans:
        await follow(fan, "tess")
    return tess, "/api/notifications", by_id


async def waitlist(people: Any) -> Listing:
    admin = await people.admin()
    for name in FANS:
        await people.container.accounts.create_account(f"{name}@x.org", name, member=False)
    return admin, "/api/admin/waitlist", by_name


async def audit(people: Any) -> Listing:
    admin = await people.admin()
    for name in FANS:
        await people.container.accounts.create_account(f"{name}@x.org", name, member=False)
        r = await admin.post("/api/admin/waitlist/approve", json={"usernames": [name]})
        assert r.status_code == 200, r.text
    return admin, "/api/admin/audit", by_id


async def my_clubs(people: Any) -> Listing:
    tess = await people.member("tess")
    for name in FANS:
        await found(tess, f"Club {name}")
    return tess, "/api/clubs/mine", by_id


async def club_members(people: Any) -> Listing:
    tess, fans = await members(people)
    club = await found(tess)
    for fan in fans:
        assert (await fan.post(f"/api/clubs/{club['id']}/join")).status_code == 200
    return tess, f"/api/clubs/{club['id']}/members", by_name


async def club_requests(people: Any) -> Listing:
    tess, fans = await members(people)
    club = await found(tess, policy="approval")
    for fan in fans:
        assert (await fan.post(f"/api/clubs/{club['id']}/join")).status_code == 200
    return tess, f"/api/clubs/{club['id']}/requests", by_name


async def events(people: Any, path: str) -> Listing:
    tess = await people.member("tess")
    for name in FANS:
        r = await tess.post("/api/events", json={**EVENT, "name": name})
        assert r.status_code == 201, r.text
    return tess, path, by_id


async def audience(people: Any) -> Listing:
    tess, fans = await members(people)
    room = await create(tess)
    for fan in fans:
        await join(fan, room["id"])
    return tess, f"/api/rooms/{room['id']}/audience", by_name


async def waitlisted_contacts(people: Any) -> Listing:
    tess = await people.member("tess")
    for name in FANS:
        await people.container.accounts.create_account(f"{name}@x.org", name, member=False)
    hashes = [email_hash(f"{name}@x.org") for name in FANS]
    assert (await tess.put("/api/me/contacts", json={"hashes": hashes})).status_code == 200
    return tess, "/api/me/contacts/waitlisted", by_name


LISTS: dict[str, Callable[[Any], Awaitable[Listing]]] = {
    "followers": followers,
    "following": following,
    "blocks": blocks,
    "notifications": notifications,
    "admin waitlist": waitlist,
    "admin audit": audit,
    "my clubs": my_clubs,
    "club members": club_members,
    "club requests": club_requests,
    "upcoming events": lambda people: events(people, "/api/events/upcoming"),
    "my events": lambda people: events(people, "/api/events/mine"),
    "room audience": audience,
    "waitlisted contacts": waitlisted_contacts,
}


@pytest.mark.parametrize("name", LISTS)
async def test_walking_a_list_to_its_end_repeats_and_misses_nothing(people: Any, name: str) -> None:
    """Pages of two, whose items tie on time, give the whole list once, in its order; the
    last page says there is none after it, and a cursor of another list's shape is refused."""
    client, path, ident = await LISTS[name](people)
    whole = await client.get(path, params={"limit": 100})
    assert whole.status_code == 200, whole.text
    expected = [ident(item) for item in whole.json()["items"]]
    assert len(expected) >= len(FANS) and whole.json()["next_cursor"] is None
    walked: list[Any] = []
    cursor = None
    for _ in range(len(expected)):
        params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= PAGE
        walked += [ident(item) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == expected
    assert cursor is None
    r = await client.get(path, params={"cursor": "bm90IGEgY3Vyc29y"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
