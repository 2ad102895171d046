"""S9 notifications over the WebSocket: live delivery, the shared channel for large
fan-outs, pauses and the summary of held notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.roomkit import create, follow
from tests.api.test_ws import Socket, serving, token_of
from tests.waiting import ws_connect as connect


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


@pytest.fixture
def open_socket(base: str) -> Any:
    async def make(client: Any) -> Socket:
        ws = await connect(
            f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(client)}"}
        )
        return Socket(ws)

    return make


async def notification(s: Socket) -> dict[str, Any]:
    """The next notification on the socket (other messages are kept)."""
    while True:
        message = await s.receive()
        if message["type"] == "notification":
            return message
        s.inbox.append(message)


async def test_a_notification_arrives_live_as_it_is_stored(open_socket: Any, people: Any) -> None:
    """An open socket gets the notification with the same id as the inbox item."""
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    s = await open_socket(ann)
    await s.request("unsubscribe", room="none")  # the socket is attached once this answers
    room = await create(host, title="Live")
    live = await notification(s)
    assert live["name"] == "room.started"
    assert live["actor"]["username"] == "host"
    assert live["data"]["room"] == room["id"]
    stored = (await ann.get("/api/notifications")).json()["items"][0]
    # What depends on the reader's state now is in the inbox only (docs/notifications.md).
    assert (stored.pop("you_follow_actor"), stored.pop("room_live")) == (True, True)
    assert {k: live[k] for k in stored} == stored


@pytest.mark.settings(notification_direct_max=1)
async def test_large_fan_outs_reach_each_recipient_through_the_shared_channel(
    open_socket: Any, people: Any
) -> None:
    """Above notification_direct_max recipients, each recipient's socket still gets exactly
    its notification, and people who are not recipients get nothing."""
    host = await people.member("host")
    fans = [await people.member(f"fan{i}") for i in range(3)]
    outsider = await people.member("outsider")
    for fan in fans:
        await follow(fan, "host")
    sockets = [await open_socket(c) for c in (*fans, outsider)]
    for s in sockets:
        await s.request("unsubscribe", room="none")
    room = await create(host)
    for s in sockets[:3]:
        got = await notification(s)
        assert got["name"] == "room.started"
        assert got["data"]["room"] == room["id"]
    # The outsider's next notification is the one meant for them, not the fans'.
    await follow(host, "outsider")
    got = await notification(sockets[3])
    assert got["name"] == "user.followed"


async def test_paused_notifications_are_not_sent_live(open_socket: Any, people: Any) -> None:
    """While paused nothing arrives live; after resuming the next one does."""
    host, other, ann = [await people.member(n) for n in ("host", "other", "ann")]
    await follow(ann, "host")
    await follow(ann, "other")
    s = await open_socket(ann)
    await s.request("unsubscribe", room="none")
    r = await ann.patch("/api/notifications/settings", json={"pause_hours": 1})
    assert r.status_code == 200
    first = await create(host)
    r = await ann.patch("/api/notifications/settings", json={"pause_hours": 0})
    assert r.status_code == 200
    second = await create(other)
    assert (await notification(s))["data"]["room"] == second["id"]
    stored = [n["data"]["room"] for n in (await ann.get("/api/notifications")).json()["items"]]
    assert stored == [second["id"], first["id"]]


@pytest.mark.settings(notification_hourly_cap=1)
async def test_held_notifications_come_back_as_one_live_summary(
    open_socket: Any, people: Any, container: Any
) -> None:
    """Over the cap nothing more arrives live; after the hour one summary does."""
    ann = await people.member("ann")
    fans = [await people.member(f"fan{i}") for i in range(3)]
    s = await open_socket(ann)
    await s.request("unsubscribe", room="none")
    for fan in fans:
        await follow(fan, "ann")
    first = await notification(s)
    assert first["actor"]["username"] == "fan0"
    people.clock.advance(hours=1)
    await container.notifications.sweep()
    summary = await notification(s)
    assert summary["name"] == "summary"
    assert summary["data"]["count"] == 2
    assert summary["actor"] is None
