"""``RoomPolicy``: who may be heard, moved along by a room's numbered events (Sans-I/O)."""

from __future__ import annotations

import json
from typing import Any

from townhall.media.policy import RoomPolicy, StageState


def event(seq: int, name: str, **data: Any) -> str:
    return json.dumps({"type": "event", "stream": "room:r", "seq": seq, "name": name, "data": data})


def watched() -> tuple[RoomPolicy, list[tuple[str, str]]]:
    told: list[tuple[str, str]] = []
    policy = RoomPolicy(on_change=lambda username, what: told.append((username, what)))
    return policy, told


def test_only_unmuted_people_on_stage_may_speak() -> None:
    """A seed says who is on stage and muted; only the unmuted ones are heard."""
    policy, told = watched()
    policy.seed(StageState(seq=5, live=True, stage={"ann": False, "bob": True}))
    assert policy.may_speak("ann") and not policy.may_speak("bob")
    assert not policy.may_speak("liz") and not policy.on_stage("liz")
    assert sorted(told) == [("ann", "stage"), ("bob", "stage")]


def test_role_and_mute_changes_follow_the_events() -> None:
    """member.updated moves people on and off stage and mutes them."""
    policy, told = watched()
    policy.seed(StageState(seq=1, live=True, stage={}))
    policy.apply(event(2, "member.updated", username="liz", role="speaker", muted=False))
    assert policy.may_speak("liz")
    policy.apply(event(3, "member.updated", username="liz", role="speaker", muted=True))
    assert policy.on_stage("liz") and not policy.may_speak("liz")
    policy.apply(event(4, "member.updated", username="liz", role="listener", muted=True))
    assert not policy.on_stage("liz")
    assert told[-3:] == [("liz", "stage")] * 3


def test_an_event_no_newer_than_what_is_known_is_ignored() -> None:
    """The seed and the live stream may overlap in either order; old news changes nothing."""
    policy, _ = watched()
    policy.apply(event(7, "member.joined", username="ann", role="moderator", muted=False))
    policy.seed(StageState(seq=6, live=True, stage={}))  # older than the event
    assert policy.may_speak("ann")
    policy.apply(event(7, "member.left", username="ann"))  # a repeat of seq 7
    assert policy.may_speak("ann")
    policy.seed(StageState(seq=9, live=True, stage={"bob": False}))  # newer: it wins
    assert policy.stage == {"bob": False}


def test_leaving_and_the_end_of_the_room_are_told() -> None:
    """member.left takes someone off stage; room.ended silences everyone."""
    policy, told = watched()
    policy.seed(StageState(seq=1, live=True, stage={"ann": False, "bob": False}))
    told.clear()
    policy.apply(event(2, "member.left", username="ann", reason="left"))
    assert told == [("ann", "left")] and not policy.may_speak("ann")
    policy.apply(event(3, "room.ended", reason="ended_by_moderator"))
    assert told[-1] == ("", "ended") and not policy.live and not policy.may_speak("bob")


def test_a_seed_of_an_ended_room_says_so() -> None:
    """Opening the media of a room that has ended tells its sessions at once."""
    policy, told = watched()
    policy.seed(StageState(seq=3, live=False, stage={}))
    assert told == [("", "ended")] and not policy.live


def test_malformed_or_unrelated_text_is_ignored() -> None:
    """Anything that is not a numbered room event leaves the policy as it was."""
    policy, told = watched()
    policy.seed(StageState(seq=1, live=True, stage={"ann": False}))
    told.clear()
    for text in ("not json", "{}", '{"seq": "x", "name": "room.ended"}', '{"seq": 2}'):
        policy.apply(text)
    policy.apply(event(3, "member.updated", role="speaker"))  # no username
    policy.apply(event(4, "hand.raised", username="ann"))
    assert policy.may_speak("ann") and policy.live and told == []
