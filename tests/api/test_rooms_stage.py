"""S4 the stage over HTTP: hands, invitations to speak, mutes, moderators and the audience."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import (
    block,
    bring_on_stage,
    cmd,
    code,
    create,
    follow,
    join,
    ok,
    roles,
    snap,
)


async def test_hand_raise_off(people: Any) -> None:
    """With hand raising off, a listener's hand stays down (403 hands_off)."""
    mona, lee = await people.member("mona"), await people.member("lee")
    rid = (await create(mona, hand_raise="off"))["id"]
    await join(lee, rid)
    r = await cmd(lee, rid, "raise_hand")
    assert r.status_code == 403 and code(r) == "hands_off"


async def test_hand_raise_followed_by_speakers(people: Any) -> None:
    """With 'followed', only listeners someone on stage follows may raise a hand."""
    mona, lee, zed = [await people.member(n) for n in ("mona", "lee", "zed")]
    rid = (await create(mona, hand_raise="followed"))["id"]
    await follow(mona, "lee")
    await join(lee, rid)
    await join(zed, rid)
    await ok(lee, rid, "raise_hand")
    r = await cmd(zed, rid, "raise_hand")
    assert r.status_code == 403 and code(r) == "hands_followed_only"


async def test_hand_queue_in_raise_order_for_moderators_only(people: Any) -> None:
    """Moderators see hands in the order raised; others see no queue; hands go up once."""
    mona = await people.member("mona")
    listeners = [await people.member(n) for n in ("zoe", "amy", "kim")]
    rid = (await create(mona))["id"]
    for c in listeners:
        await join(c, rid)
    for c in listeners:
        await ok(c, rid, "raise_hand")
    assert (await snap(mona, rid))["hands"] == ["zoe", "amy", "kim"]
    assert (await snap(listeners[0], rid))["hands"] is None
    r = await cmd(listeners[1], rid, "raise_hand")
    assert r.status_code == 409 and code(r) == "hand_already_raised"
    await ok(listeners[1], rid, "lower_hand")
    r = await cmd(listeners[1], rid, "lower_hand")
    assert r.status_code == 409 and code(r) == "hand_not_raised"
    await ok(listeners[1], rid, "raise_hand")
    assert (await snap(mona, rid))["hands"] == ["zoe", "kim", "amy"]


async def test_invite_accept_and_decline(people: Any) -> None:
    """An invited listener accepts (speaker, muted, hand down) or declines (stays listener)."""
    mona, lee, zed = [await people.member(n) for n in ("mona", "lee", "zed")]
    rid = (await create(mona))["id"]
    await join(lee, rid)
    await join(zed, rid)
    await ok(lee, rid, "raise_hand")
    r = await cmd(lee, rid, "accept_speak")
    assert r.status_code == 409 and code(r) == "not_invited"
    await ok(mona, rid, "invite_to_speak", target="lee")
    r = await cmd(mona, rid, "invite_to_speak", target="lee")
    assert r.status_code == 409 and code(r) == "already_invited"
    assert (await snap(lee, rid))["me"]["invited_to_speak"] is True
    await ok(lee, rid, "accept_speak")
    room = await snap(mona, rid)
    lee_view = next(m for m in room["stage"] if m["username"] == "lee")
    assert (lee_view["role"], lee_view["muted"], room["hands"]) == ("speaker", True, [])
    r = await cmd(mona, rid, "invite_to_speak", target="lee")
    assert r.status_code == 409 and code(r) == "already_on_stage"
    await ok(mona, rid, "invite_to_speak", target="zed")
    await ok(zed, rid, "decline_speak")
    assert roles(await snap(mona, rid))["zed"] == "listener"
    r = await cmd(zed, rid, "decline_speak")
    assert r.status_code == 409 and code(r) == "not_invited"


async def test_mute_rules(people: Any) -> None:
    """Speakers mute and unmute themselves; a moderator can mute them but never unmute."""
    mona, sam, lee = [await people.member(n) for n in ("mona", "sam", "lee")]
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await join(lee, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(sam, rid, "unmute")
    r = await cmd(sam, rid, "unmute")
    assert r.status_code == 409 and code(r) == "already_unmuted"
    await ok(mona, rid, "mute_speaker", target="sam")
    r = await cmd(mona, rid, "mute_speaker", target="sam")
    assert r.status_code == 409 and code(r) == "already_muted"
    r = await cmd(mona, rid, "unmute", target="sam")
    assert r.status_code == 400 and code(r) == "invalid_arguments"
    r = await cmd(mona, rid, "mute_speaker", target="lee")
    assert r.status_code == 409 and code(r) == "not_on_stage"
    r = await cmd(lee, rid, "unmute")
    assert r.status_code == 403 and code(r) == "not_allowed"
    assert (await snap(mona, rid))["stage"][1]["muted"] is True


async def test_step_down_and_move_to_audience(people: Any) -> None:
    """A speaker steps down; a moderator moves a speaker, not another moderator, to the audience."""
    mona, sam, max_ = [await people.member(n) for n in ("mona", "sam", "max")]
    rid = (await create(mona))["id"]
    for c in (sam, max_):
        await join(c, rid)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(sam, rid, "unmute")
    await ok(sam, rid, "step_down")
    me = (await snap(sam, rid))["me"]
    assert (me["role"], me["muted"]) == ("listener", True)
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(mona, rid, "move_to_audience", target="sam")
    assert roles(await snap(mona, rid))["sam"] == "listener"
    r = await cmd(mona, rid, "move_to_audience", target="sam")
    assert r.status_code == 409 and code(r) == "not_on_stage"
    await bring_on_stage(mona, max_, rid, "max")
    await ok(mona, rid, "make_moderator", target="max")
    r = await cmd(mona, rid, "move_to_audience", target="max")
    assert r.status_code == 409 and code(r) == "target_is_moderator"
    r = await cmd(mona, rid, "remove", target="max")
    assert r.status_code == 409 and code(r) == "target_is_moderator"
    r = await cmd(mona, rid, "move_to_audience", target="nobody")
    assert r.status_code == 404 and code(r) == "not_in_room"


async def test_make_and_remove_moderator(people: Any) -> None:
    """Only speakers can be made moderators; moderator status can be taken away once."""
    mona, sam, lee = [await people.member(n) for n in ("mona", "sam", "lee")]
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await join(lee, rid)
    r = await cmd(mona, rid, "make_moderator", target="lee")
    assert r.status_code == 409 and code(r) == "not_on_stage"
    await bring_on_stage(mona, sam, rid, "sam")
    await ok(mona, rid, "make_moderator", target="sam")
    r = await cmd(mona, rid, "make_moderator", target="sam")
    assert r.status_code == 409 and code(r) == "already_moderator"
    assert (await snap(sam, rid))["hands"] == []
    await ok(sam, rid, "remove_moderator", target="mona")
    assert roles(await snap(sam, rid)) == {"mona": "speaker", "sam": "moderator", "lee": "listener"}
    r = await cmd(sam, rid, "remove_moderator", target="mona")
    assert r.status_code == 409 and code(r) == "not_moderator"
    r = await cmd(mona, rid, "rename", title="x")
    assert r.status_code == 403 and code(r) == "not_allowed"


async def test_blocked_by_someone_on_stage_cannot_come_up(people: Any) -> None:
    """A listener blocked by someone on stage cannot be invited or accept (403 blocked_by_stage)."""
    mona, sam, lee = [await people.member(n) for n in ("mona", "sam", "lee")]
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await join(lee, rid)
    await ok(mona, rid, "invite_to_speak", target="lee")
    await bring_on_stage(mona, sam, rid, "sam")
    await block(sam, "lee")
    r = await cmd(lee, rid, "accept_speak")
    assert r.status_code == 403 and code(r) == "blocked_by_stage"
    await ok(lee, rid, "decline_speak")
    r = await cmd(mona, rid, "invite_to_speak", target="lee")
    assert r.status_code == 403 and code(r) == "blocked_by_stage"
    assert roles(await snap(mona, rid))["lee"] == "listener"


@pytest.mark.settings(room_stage_capacity=2)
async def test_stage_capacity(people: Any) -> None:
    """Past the stage capacity, nobody more can be brought up (409 stage_full)."""
    mona, sam, lee = [await people.member(n) for n in ("mona", "sam", "lee")]
    rid = (await create(mona))["id"]
    await join(sam, rid)
    await join(lee, rid)
    await ok(mona, rid, "invite_to_speak", target="lee")
    await bring_on_stage(mona, sam, rid, "sam")
    r = await cmd(lee, rid, "accept_speak")
    assert r.status_code == 409 and code(r) == "stage_full"
    r = await cmd(mona, rid, "invite_to_speak", target="lee")
    assert r.status_code == 409
    await ok(sam, rid, "step_down")
    await ok(lee, rid, "accept_speak")


async def test_audience_groups_follow_the_stage(people: Any) -> None:
    """Listeners are grouped as followed by the speakers or others, as the stage changes."""
    mona, sam, lee, zed = [await people.member(n) for n in ("mona", "sam", "lee", "zed")]
    await follow(sam, "lee")
    rid = (await create(mona))["id"]
    for c in (sam, lee, zed):
        await join(c, rid)

    async def groups() -> dict[str, str]:
        room = await snap(mona, rid)
        return {m["username"]: m["group"] for m in room["audience"]}

    assert await groups() == {"sam": "others", "lee": "others", "zed": "others"}
    await bring_on_stage(mona, sam, rid, "sam")
    assert await groups() == {"lee": "followed_by_speakers", "zed": "others"}
    assert all(m["group"] is None for m in (await snap(mona, rid))["stage"])
    await ok(sam, rid, "step_down")
    assert await groups() == {"sam": "others", "lee": "others", "zed": "others"}
