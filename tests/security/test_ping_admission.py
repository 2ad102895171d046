"""Issue 11 item 4: only a moderator's ping lets someone into a social or closed room."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.roomkit import bring_on_stage, code, create, follow, join, ok


async def inbox(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/api/notifications", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [n["name"] for n in r.json()["items"]]


async def refused(client: httpx.AsyncClient, room_id: str) -> None:
    r = await client.post(f"/api/rooms/{room_id}/join")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you", r.text
    r = await client.get(f"/api/rooms/{room_id}")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you", r.text


@pytest.mark.parametrize("kind", ["closed", "social"])
async def test_a_listeners_ping_does_not_open_the_room(people: Any, kind: str) -> None:
    """lee, let in by mona, pings pat: pat hears of it but may not enter; mona's ping admits."""
    mona, lee, pat = [await people.member(n) for n in ("mona", "lee", "pat")]
    await follow(lee, "mona")
    await follow(pat, "lee")
    await follow(pat, "mona")
    rid = (await create(mona, kind=kind))["id"]
    await ok(mona, rid, "ping", target="lee")
    await join(lee, rid)
    await ok(lee, rid, "ping", target="pat")
    assert "room.pinged" in await inbox(pat)
    await refused(pat, rid)
    await ok(mona, rid, "ping", target="pat")
    await join(pat, rid)


async def test_a_speakers_ping_does_not_open_the_room(people: Any) -> None:
    """Being on stage is not being a moderator: a speaker's ping admits nobody either."""
    mona, sam, pat = [await people.member(n) for n in ("mona", "sam", "pat")]
    await follow(sam, "mona")
    await follow(pat, "sam")
    rid = (await create(mona, kind="closed"))["id"]
    await ok(mona, rid, "ping", target="sam")
    await join(sam, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(sam, rid, "ping", target="pat")
    await refused(pat, rid)
