"""A large audience: snapshots list a bounded part of it, the rest comes page by page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import bring_on_stage, create, events, follow, join, ok, snap


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


async def test_audience_groups_are_sent_only_when_they_change(people: Any) -> None:
    """A stage change that moves nobody between the audience's groups sends no
    audience.groups event; one that does sends the new group."""
    host = await people.member("host")
    fan = await people.member("fan")
    guest = await people.member("guest")
    third = await people.member("third")
    await follow(guest, "fan")
    room = await create(host, title="Groups", kind="open", hand_raise="everyone")
    for client in (fan, guest, third):
        await join(client, room["id"])

    def groups(events_: list[dict[str, Any]]) -> list[list[str]]:
        return [
            e["data"]["followed_by_speakers"] for e in events_ if e["name"] == "audience.groups"
        ]

    seq = (await snap(host, room["id"]))["seq"]
    await bring_on_stage(host, guest, room["id"], "guest")
    assert groups(await events(host, room["id"], after=seq)) == [["fan"]]

    seq = (await snap(host, room["id"]))["seq"]
    await bring_on_stage(host, third, room["id"], "third")
    changed = await events(host, room["id"], after=seq)
    assert [e["name"] for e in changed].count("member.updated") == 1
    assert groups(changed) == []

    seq = (await snap(host, room["id"]))["seq"]
    await ok(guest, room["id"], "step_down")
    assert groups(await events(host, room["id"], after=seq)) == [[]]
