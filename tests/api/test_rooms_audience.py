"""A large audience: snapshots list a bounded part of it, the rest comes page by page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import create, join


@pytest.mark.settings(room_snapshot_audience=2)
async def test_snapshot_lists_a_bounded_audience_and_pages_the_rest(people: Any) -> None:
    """With five listeners and a snapshot bound of two, the snapshot counts all five, lists
    the first two plus the viewer, and the audience pages hold everyone once, in order."""
    host = await people.member("host")
    listeners = [await people.member(f"ear{i}") for i in range(5)]
    room = await create(host, title="Big", kind="open", hand_raise="everyone")
    for client in listeners:
        await join(client, room["id"])

    last = await join(listeners[-1], room["id"])
    assert last["listeners"] == 5
    assert [m["username"] for m in last["audience"]] == ["ear0", "ear1", "ear4"]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await host.get(f"/api/rooms/{room['id']}/audience", params=params)
        assert r.status_code == 200, r.text
        seen += [m["username"] for m in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"ear{i}" for i in range(5)]


async def test_audience_page_rejects_a_forged_cursor(people: Any) -> None:
    """A cursor that is not one the server gave is refused with invalid_cursor."""
    host = await people.member("host")
    room = await create(host, title="Big", kind="open", hand_raise="everyone")
    r = await host.get(f"/api/rooms/{room['id']}/audience", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_cursor"
