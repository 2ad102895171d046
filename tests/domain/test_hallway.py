"""The hallway's ranking and visibility as pure functions, on constructed rooms."""

from __future__ import annotations

from datetime import UTC, datetime

from townhall.domain.hallway import Signals, rank, score, topic_words
from townhall.storage.hallway import LiveRoom

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def room(id: str, **kw: object) -> LiveRoom:
    values: dict[str, object] = {
        "title": "",
        "kind": "open",
        "club_id": None,
        "members_only": False,
        "created_by_id": 99,
        "created_at": NOW,
        "listeners": 0,
        "on_stage": 1,
        "recent_joins": 0,
    }
    values.update(kw)
    return LiveRoom(id=id, **values)  # type: ignore[arg-type]


def test_two_followed_speakers_beat_a_full_room_of_strangers() -> None:
    """Two people you follow on stage outscore 5,000 strangers who all just came in."""
    friends, _ = score(Signals(followed_on_stage=2, people=2))
    crowd, reason = score(Signals(people=5000, recent_joins=5000))
    assert friends > crowd
    assert reason == "popular"


def test_signals_rank_in_the_order_the_spec_gives() -> None:
    """On stage > listening > club > topic, each alone in an otherwise empty room."""
    values = [
        score(Signals(followed_on_stage=1))[0],
        score(Signals(followed_listening=1))[0],
        score(Signals(club="member"))[0],
        score(Signals(club="follower"))[0],
        score(Signals(topic_matches=1))[0],
        score(Signals())[0],
    ]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == len(values)


def test_blocked_speakers_hide_rooms_and_are_counted() -> None:
    """A room with someone the viewer blocked on stage is hidden and counted."""
    out = rank(
        [room("a"), room("b")],
        {"blocked_on_stage": {"a": 1}},
        user_id=1,
        club_roles={},
        topics={},
    )
    assert [c.room.id for c in out.rooms] == ["b"]
    assert out.hidden == 1


def test_who_may_see_which_room() -> None:
    """Members-only rooms for club members; closed for the invited; social when a
    moderator follows you; never when banned or blocked by a moderator."""
    rooms = [
        room("club", club_id=7, members_only=True),
        room("closed", kind="closed"),
        room("invited", kind="closed"),
        room("social", kind="social"),
        room("banned"),
        room("mod_blocked"),
        room("mine", kind="closed", created_by_id=1),
    ]
    standing = {
        "invited": {"invited": 1},
        "moderator_follows": {"social": 1},
        "banned": {"banned": 1},
        "blocked_by_moderator": {"mod_blocked": 1},
    }
    seen = rank(rooms, standing, 1, {7: "member"}, {})
    assert sorted(c.room.id for c in seen.rooms) == ["club", "invited", "mine", "social"]
    outsider = rank(rooms, {}, 2, {7: "follower"}, {})
    assert sorted(c.room.id for c in outsider.rooms) == ["banned", "mod_blocked"]
    assert outsider.hidden == 0


def test_topic_words_skip_short_and_common_words() -> None:
    """Titles give lower-case words of three letters or more, without common ones."""
    assert topic_words("The JAZZ talk: jazz & Bebop in NYC!") == ["jazz", "bebop", "nyc"]
