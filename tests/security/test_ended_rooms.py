"""Issue 11 item 5: an ended room is read by the rule for entering it, and its log goes a
``room_log_retention_seconds`` after its end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.api.roomkit import code, create, follow, join, ok
from townhall.storage.models import RoomEvent

READS = ("", "/events", "/audience")


async def log_size(container: Any, room_id: str) -> int:
    async with container.db.transaction() as tx:
        query = select(func.count()).where(RoomEvent.room_id == room_id)
        return int((await tx.execute(query)).scalar_one())


async def joined(client: httpx.AsyncClient, room_id: str) -> list[str]:
    r = await client.get(f"/api/rooms/{room_id}/events", params={"after": 0})
    assert r.status_code == 200, r.text
    events = r.json().get("events")
    assert events is not None, r.text
    return [e["data"]["username"] for e in events if e["name"] == "member.joined"]


@pytest.mark.parametrize("kind", ["closed", "social"])
async def test_an_ended_room_is_read_only_by_whom_it_admits(
    people: Any, client: httpx.AsyncClient, kind: str
) -> None:
    """After the end, someone the room would not admit gets 410 room_ended and nothing else
    from the snapshot, the log and the audience, and its share preview has no title; its
    creator and the people a moderator let in still read it."""
    mona, pat, eve = [await people.member(n) for n in ("mona", "pat", "eve")]
    await follow(pat, "mona")
    rid = (await create(mona, kind=kind, title="Secret plans"))["id"]
    await ok(mona, rid, "ping", target="pat")
    await join(pat, rid)
    r = await eve.get(f"/api/rooms/{rid}")
    assert r.status_code == 403 and code(r) == "room_not_open_to_you"
    await ok(mona, rid, "end")
    for path in READS:
        r = await eve.get(f"/api/rooms/{rid}{path}")
        assert r.status_code == 410 and code(r) == "room_ended", (path, r.text)
        assert "Secret plans" not in r.text and "pat" not in r.text
    preview = await client.get(f"/api/rooms/{rid}/preview")
    assert preview.status_code == 200 and preview.json()["status"] == "ended"
    assert preview.json()["title"] == ""
    assert "Secret plans" not in (await client.get(f"/r/{rid}")).text
    for reader in (mona, pat):
        r = await reader.get(f"/api/rooms/{rid}")
        assert r.status_code == 200 and r.json()["title"] == "Secret plans"
        assert r.json()["status"] == "ended"
        assert "mona" in await joined(reader, rid)


async def test_an_ended_open_room_keeps_its_title(people: Any) -> None:
    """An open room admits any member after its end too, and its link keeps its title."""
    mona, eve = [await people.member(n) for n in ("mona", "eve")]
    rid = (await create(mona, title="Open talk"))["id"]
    await ok(mona, rid, "end")
    assert (await eve.get(f"/api/rooms/{rid}")).json()["title"] == "Open talk"
    assert (await eve.get(f"/api/rooms/{rid}/preview")).json()["title"] == "Open talk"


async def test_a_removed_person_reads_nothing_after_the_end(people: Any) -> None:
    """A ban keeps holding once the room has ended."""
    mona, bob = [await people.member(n) for n in ("mona", "bob")]
    rid = (await create(mona, title="Open talk"))["id"]
    await join(bob, rid)
    await ok(mona, rid, "remove", target="bob")
    await ok(mona, rid, "end")
    r = await bob.get(f"/api/rooms/{rid}/events")
    assert r.status_code == 410 and code(r) == "room_ended"


async def test_the_log_goes_an_hour_after_the_end(people: Any, container: Any) -> None:
    """Run by the log sweeper: before the hour the log is there, after it nobody reads a
    name from it (the catch-up answers the snapshot, which says the room ended); live
    rooms keep theirs however old."""
    mona, bob = [await people.member(n) for n in ("mona", "bob")]
    rid = (await create(mona, title="Open talk"))["id"]
    live = (await create(bob, title="Still on"))["id"]
    await join(bob, rid)
    await ok(mona, rid, "end")
    people.clock.advance(minutes=59)
    await container.room_logs.sweep()
    assert "mona" in await joined(bob, rid)
    people.clock.advance(minutes=2)
    await container.room_logs.sweep()
    assert await log_size(container, rid) == 0
    for reader in (mona, bob):
        r = await reader.get(f"/api/rooms/{rid}/events", params={"after": 0})
        assert r.status_code == 200 and "events" not in r.json()
        assert r.json()["snapshot"]["status"] == "ended"
        assert "bob" not in str(r.json()["snapshot"]["audience"])
    assert await log_size(container, live) > 0
    await container.room_logs.sweep()  # nothing left to do, and nothing breaks


@pytest.mark.settings(room_log_retention_seconds=0)
async def test_the_retention_is_a_setting(people: Any, container: Any) -> None:
    """With a retention of 0 the next sweep takes an ended room's log."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    await ok(mona, rid, "end")
    await container.room_logs.sweep()
    assert await log_size(container, rid) == 0
