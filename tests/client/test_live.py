"""``Live``, the WebSocket half of the client library, against a served app."""

from __future__ import annotations

import pytest

from tests.client.conftest import Member
from tests.waiting import PATIENCE
from townhall.client import TownhallAPIError


async def test_requests_answer_or_raise(member: Member, server_url: str) -> None:
    """A live request returns its result, and a refusal raises with the server's code."""
    ada = await member("ada", server_url)
    async with ada.live() as live:
        created = await live.request("room.create", title="Live talk")
        assert created["snapshot"]["me"]["role"] == "moderator"
        with pytest.raises(TownhallAPIError) as caught:
            await live.request("room.command", room=created["snapshot"]["id"], command="fly")
        assert caught.value.status is None
        assert caught.value.code == "unknown_command"


async def test_events_reach_a_subscriber_in_order(member: Member, server_url: str) -> None:
    """Events of a subscribed room arrive through events(), after the room's snapshot; a
    listener's arrival comes as a digest, which the client keeps as the room's audience."""
    ada, bob = await member("ada", server_url), await member("bob", server_url)
    room = await ada.create_room("Ordered")
    async with ada.live() as live:
        await live.subscribe(room["id"])
        first = await live.wait_for(lambda m: True, within=PATIENCE)
        assert first["type"] == "snapshot" and first["snapshot"]["id"] == room["id"]
        assert live.listeners(room["id"]) == 0
        await bob.join(room["id"])
        digest = await live.wait_for(
            lambda m: m.get("name") == "audience.changed" and m["data"]["members"],
            within=PATIENCE,
        )
        assert digest["data"]["listeners"] == 1
        assert [m["username"] for m in digest["data"]["members"]] == ["bob"]
        assert live.listeners(room["id"]) == 1
        assert [m["username"] for m in live.audience(room["id"])] == ["bob"]
        await bob.command(room["id"], "raise_hand")
        hand = await live.wait_for(lambda m: m.get("name") == "hand.raised", within=PATIENCE)
        assert hand["seq"] > first["snapshot"]["seq"]
        await bob.command(room["id"], "leave")
        await live.wait_for(
            lambda m: m.get("name") == "audience.changed" and m["data"]["left"] == ["bob"],
            within=PATIENCE,
        )
        assert (live.listeners(room["id"]), live.audience(room["id"])) == (0, [])


async def test_a_dropped_socket_resumes_without_losing_events(
    member: Member, server_url: str
) -> None:
    """After the socket drops, the client reconnects and resumes the room from the last
    event it saw: events made meanwhile arrive once, and commands work again."""
    ada, bob = await member("ada", server_url), await member("bob", server_url)
    room = await ada.create_room("Resumed")
    await bob.join(room["id"])
    async with ada.live() as live:
        await live.subscribe(room["id"])
        await live.drop()
        await bob.command(room["id"], "raise_hand")
        await live.wait_for(lambda m: m.get("type") == "reconnected", within=PATIENCE)
        hand = await live.wait_for(lambda m: m.get("name") == "hand.raised", within=PATIENCE)
        assert hand["data"]["username"] == "bob"
        assert live.reconnects == 1
        await live.request("room.command", room=room["id"], command="rename", title="Again")
        renamed = await live.wait_for(lambda m: m.get("name") == "room.updated", within=PATIENCE)
        assert renamed["data"] == {"title": "Again"}
        assert renamed["seq"] == hand["seq"] + 1
        assert live.streams.seq[room["id"]] == renamed["seq"]
