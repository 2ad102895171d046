"""The audience in a real browser: it follows the room's digests, without a reload."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ROOM_URL, Server, member_tile

SERVER_ENV = {"TOWNHALL_ROOM_DIGEST_SECONDS": "0.2"}


def api_member(server: Server, username: str) -> httpx.Client:
    """A member who uses the API only (no browser), signed in with a token."""
    server.cli("create-member", "--email", f"{username}@example.org", "--username", username)
    link = server.cli("signin-link", username).strip()
    signed_in = httpx.post(
        f"{server.url}/api/auth/link",
        json={"token": link.rsplit("/", 1)[-1], "session": "token"},
    )
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["token"]
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})


def test_the_audience_list_follows_arrivals_and_departures(server: Server, people: Any) -> None:
    """Listeners who come in and leave show up and go in the moderator's page, with the
    count, from the digests alone: the page is never reloaded."""
    ivy = people("ivy")
    page = ivy.page
    page.get_by_text("Start a room").click()
    page.get_by_label("Title (optional)").fill("Filling up")
    page.get_by_role("button", name="Let's go").click()
    expect(page.get_by_role("heading", name="Filling up")).to_be_visible()
    match = ROOM_URL.search(page.url)
    assert match, page.url
    room = match.group(1)
    page.evaluate("() => { window.notReloaded = true; }")

    guests = [api_member(server, name) for name in ("jon", "kay", "lou")]
    for guest in guests:
        assert guest.post(f"/api/rooms/{room}/join").status_code == 200
    for name in ("jon", "kay", "lou"):
        expect(member_tile(page, name)).to_be_visible()
    expect(page.get_by_text("3 listeners")).to_be_visible()

    assert guests[1].post(f"/api/rooms/{room}/leave").status_code == 200
    expect(member_tile(page, "kay")).to_have_count(0)
    expect(page.get_by_text("2 listeners")).to_be_visible()
    expect(member_tile(page, "jon")).to_be_visible()
    assert page.evaluate("() => window.notReloaded === true")
    for guest in guests:
        guest.close()


def test_with_its_socket_open_the_app_joins_over_it(server: Server, people: Any) -> None:
    """A member whose socket is up joins a room over it: the snapshot and the room's events
    start together, so there is no HTTP join and no resume to read the audience again for;
    the digests then keep the page current."""
    moe = api_member(server, "moe")
    nia = people("nia")
    page = nia.page
    joins: list[str] = []
    page.on(
        "request",
        lambda r: joins.append(r.url) if r.method == "POST" and "/join" in r.url else None,
    )
    # A notification that arrives live shows the socket is open.
    assert moe.put("/api/users/nia/follow").status_code == 200
    expect(page.locator(".toast", has_text="followed you")).to_be_visible()
    made = moe.post("/api/rooms", json={"title": "Open door"})
    assert made.status_code == 201, made.text
    room = made.json()["id"]
    page.evaluate(f"() => {{ location.hash = '#/room/{room}'; }}")
    expect(page.get_by_role("heading", name="Open door")).to_be_visible()
    expect(page.get_by_text("1 listener")).to_be_visible()
    assert joins == []
    pip = api_member(server, "pip")
    assert pip.post(f"/api/rooms/{room}/join").status_code == 200
    expect(member_tile(page, "pip")).to_be_visible()
    expect(page.get_by_text("2 listeners")).to_be_visible()
    for client in (moe, pip):
        client.close()
