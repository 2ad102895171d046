"""S4 two moderators acting on the same person at once end in one well-defined state."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.roomkit import bring_on_stage, cmd, code, create, events, join, ok, roles, snap


async def two_moderators_and_a_speaker(people: Any) -> tuple[str, Any, Any, Any]:
    mona, max_, sam = [await people.member(n) for n in ("mona", "max", "sam")]
    rid = (await create(mona))["id"]
    await join(max_, rid)
    await join(sam, rid)
    await bring_on_stage(mona, max_, rid, "max")
    await ok(mona, rid, "make_moderator", target="max")
    await bring_on_stage(mona, sam, rid, "sam")
    return rid, mona, max_, sam


async def test_remove_against_make_moderator(people: Any) -> None:
    """Remove and make-moderator at once: one wins, the other gets a clear conflict."""
    rid, mona, max_, _ = await two_moderators_and_a_speaker(people)
    removed, promoted = await asyncio.gather(
        cmd(mona, rid, "remove", target="sam"), cmd(max_, rid, "make_moderator", target="sam")
    )
    statuses = sorted([removed.status_code, promoted.status_code])
    assert statuses[0] == 200 and statuses[1] in (404, 409), (removed.text, promoted.text)
    state = roles(await snap(mona, rid))
    if removed.status_code == 200:
        assert code(promoted) == "not_in_room" and "sam" not in state
    else:
        assert code(removed) == "target_is_moderator" and state["sam"] == "moderator"


async def test_two_moves_to_audience(people: Any) -> None:
    """Two moderators moving the same speaker: one succeeds, the other is told not_on_stage."""
    rid, mona, max_, _ = await two_moderators_and_a_speaker(people)
    before = (await snap(mona, rid))["seq"]
    results = await asyncio.gather(
        cmd(mona, rid, "move_to_audience", target="sam"),
        cmd(max_, rid, "move_to_audience", target="sam"),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    assert code(next(r for r in results if r.status_code == 409)) == "not_on_stage"
    assert roles(await snap(mona, rid))["sam"] == "listener"
    log = await events(mona, rid, after=before)
    assert [e["seq"] for e in log] == list(range(before + 1, before + 1 + len(log)))
    assert [e["name"] for e in log].count("member.updated") == 1


async def test_demote_each_other_at_once(people: Any) -> None:
    """Two moderators demoting each other at once leave exactly one moderator."""
    rid, mona, max_, _ = await two_moderators_and_a_speaker(people)
    results = await asyncio.gather(
        cmd(mona, rid, "remove_moderator", target="max"),
        cmd(max_, rid, "remove_moderator", target="mona"),
    )
    assert sorted(r.status_code for r in results) == [200, 403]
    assert code(next(r for r in results if r.status_code == 403)) == "not_allowed"
    state = roles(await snap(mona, rid))
    assert sorted(r for n, r in state.items() if n != "sam") == ["moderator", "speaker"]


async def test_many_joins_at_once_number_events_without_gaps(people: Any) -> None:
    """Concurrent joins are all applied, each with its own consecutive event number."""
    mona = await people.member("mona")
    others = [await people.member(f"guest{i}") for i in range(6)]
    rid = (await create(mona))["id"]
    results = await asyncio.gather(*(c.post(f"/api/rooms/{rid}/join") for c in others))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    room = await snap(mona, rid)
    assert room["listeners"] == 6
    assert [e["seq"] for e in await events(mona, rid)] == list(range(1, room["seq"] + 1))
