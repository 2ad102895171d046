"""``Townhall``, the HTTP half of the client library, against the real app."""

from __future__ import annotations

import pytest

from tests.client.conftest import Member
from townhall.client import TownhallAPIError


async def test_signs_in_with_an_operator_link(member: Member) -> None:
    """Signing in with an operator's link keeps a token and the client acts as that person."""
    ada = await member("ada")
    assert ada.token
    assert (await ada.me())["username"] == "ada"


async def test_error_answers_raise_with_status_and_code(member: Member) -> None:
    """An error body becomes a TownhallAPIError carrying the status, code and message."""
    ada = await member("ada")
    with pytest.raises(TownhallAPIError) as caught:
        await ada.join("no-such-room")
    assert caught.value.status == 404
    assert caught.value.code == "room_not_found"
    assert caught.value.message


async def test_rooms_from_creation_to_commands(member: Member) -> None:
    """Create, list, join, command, read events and preview a room through the client."""
    ada, bob = await member("ada"), await member("bob")
    await bob.follow("ada")
    room = await ada.create_room("Client talk", "open", "everyone")
    assert room["me"]["role"] == "moderator"
    listed = await bob.rooms()
    assert [r["id"] for r in listed["items"]] == [room["id"]]
    joined = await bob.join(room["id"])
    assert joined["me"]["role"] == "listener"
    await bob.command(room["id"], "raise_hand")
    await ada.command(room["id"], "invite_to_speak", target="bob")
    await bob.command(room["id"], "accept_speak")
    caught_up = await ada.events(room["id"], after=room["seq"])
    names = [e["name"] for e in caught_up["events"]]
    assert names[:2] == ["hand.raised", "speak.invited"]
    assert "member.updated" in names
    preview = await bob.preview(room["id"])
    assert {p["username"] for p in preview["stage"]} == {"ada", "bob"}
    with pytest.raises(TownhallAPIError) as caught:
        await bob.command(room["id"], "end")
    assert (caught.value.status, caught.value.code) == (403, "not_allowed")
