"""S7 events: "upcoming for you", "my events", remind-me, the private calendar feed, and a
host starting the event's room."""

from __future__ import annotations

from typing import Any

import pytest
from icalendar import Calendar

from tests.api.clubkit import Heard, code, found, give_role, user_id
from tests.api.roomkit import follow, join, snap
from tests.api.test_events import schedule


def names(page: Any) -> list[str]:
    return [e["name"] for e in page.json()["items"]]


def summaries(ics: bytes) -> list[str]:
    return sorted(str(e["summary"]) for e in Calendar.from_ical(ics).walk("VEVENT"))


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_upcoming_for_you_and_my_events(people: Any) -> None:
    """Upcoming: events of people and clubs you follow and yours, members-only ones for
    members only; mine: hosted or reminded. Both are paged by start time."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cyd = await people.member("cyd")
    c = await found(ada)
    await give_role(ada, bob, c["id"], "bob", "follower")
    await give_role(ada, cyd, c["id"], "cyd", "member")
    await schedule(ada, name="Open club", club=c["id"], starts_at="2026-03-05T10:00")
    await schedule(
        ada, name="Members", club=c["id"], members_only=True, starts_at="2026-03-06T10:00"
    )
    await schedule(ada, name="Personal", starts_at="2026-03-04T10:00")
    await schedule(cyd, name="Cyd's", starts_at="2026-03-07T10:00")
    assert names(await bob.get("/api/events/upcoming")) == ["Open club"]
    await follow(bob, "ada")
    assert names(await bob.get("/api/events/upcoming")) == ["Personal", "Open club"]
    assert names(await cyd.get("/api/events/upcoming")) == ["Open club", "Members", "Cyd's"]
    first = await ada.get("/api/events/upcoming", params={"limit": 2})
    rest = await ada.get(
        "/api/events/upcoming", params={"limit": 2, "cursor": first.json()["next_cursor"]}
    )
    assert names(first) + names(rest) == ["Personal", "Open club", "Members"]
    assert names(await bob.get("/api/events/mine")) == []
    personal = (await ada.get("/api/events/mine")).json()["items"][0]
    r = await bob.put(f"/api/events/{personal['id']}/reminder")
    assert r.status_code == 200 and r.json()["reminded"] is True
    assert names(await bob.get("/api/events/mine")) == ["Personal"]
    assert (await bob.delete(f"/api/events/{personal['id']}/reminder")).json()["reminded"] is False
    assert names(await bob.get("/api/events/mine")) == []


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_club_events_need_the_role_and_club_member_cohosts(people: Any) -> None:
    """Only club founders, admins and leaders schedule for the club; co-hosts are members."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    c = await found(ada)
    r = await ada.post(
        "/api/events",
        json={
            "name": "X",
            "starts_at": "2026-03-05T10:00",
            "time_zone": "UTC",
            "club": c["id"],
            "cohosts": ["bob"],
        },
    )
    assert r.status_code == 400 and code(r) == "cohost_not_club_member"
    await give_role(ada, bob, c["id"], "bob", "member")
    e = await schedule(ada, club=c["id"], cohosts=["bob"])
    assert e["club"] == {"id": c["id"], "name": c["name"]}


async def test_calendar_feed_lists_my_events_until_rotated_or_revoked(
    people: Any, client: Any
) -> None:
    """The private feed lists what you host or were reminded of; rotating or revoking the
    address makes the old one answer 410; an unknown one is a 404."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    mine = await schedule(bob, name="Bob's talk")
    await schedule(ada, name="Ada's talk")
    await bob.put(f"/api/events/{mine['id']}/reminder")
    assert (await ada.get("/api/me/calendar-feed")).json() == {"active": False, "created_at": None}
    r = await ada.delete("/api/me/calendar-feed")
    assert r.status_code == 404 and code(r) == "calendar_feed_not_found"
    r = await ada.put(f"/api/events/{mine['id']}/reminder")
    url = (await ada.post("/api/me/calendar-feed")).json()["url"]
    path = url.removeprefix("http://townhall.test")
    feed = await client.get(path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert summaries(feed.content) == ["Ada's talk", "Bob's talk"]
    assert (await ada.get("/api/me/calendar-feed")).json()["active"] is True
    newer = (await ada.post("/api/me/calendar-feed")).json()["url"]
    r = await client.get(path)
    assert r.status_code == 410 and code(r) == "calendar_feed_revoked"
    newer_path = newer.removeprefix("http://townhall.test")
    assert (await client.get(newer_path)).status_code == 200
    assert (await ada.delete("/api/me/calendar-feed")).status_code == 200
    r = await client.get(newer_path)
    assert r.status_code == 410 and code(r) == "calendar_feed_revoked"
    assert (await ada.get("/api/me/calendar-feed")).json()["active"] is False
    r = await client.get("/calendar/" + "x" * 43 + ".ics")
    assert r.status_code == 404 and code(r) == "calendar_feed_not_found"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_a_host_starts_the_room_and_the_reminded_are_told(
    people: Any, container: Any, clock: Any
) -> None:
    """Hosts start the event's room from an hour before; it takes the club's settings,
    the event links to it, co-hosts join as moderators, and the reminded are told."""
    heard = Heard(container)
    ada = await people.member("ada")
    bob = await people.member("bob")
    cyd = await people.member("cyd")
    c = await found(ada)
    await give_role(ada, bob, c["id"], "bob", "member")
    e = await schedule(
        ada, club=c["id"], members_only=True, cohosts=["bob"], starts_at="2026-03-02T10:00"
    )
    await bob.put(f"/api/events/{e['id']}/reminder")
    assert (await bob.post(f"/api/events/{e['id']}/cohost/accept")).status_code == 200
    r = await bob.post(f"/api/events/{e['id']}/start")
    assert r.status_code == 409 and code(r) == "event_too_early"
    clock.advance(hours=20, minutes=30)  # 08:30 UTC, 09:30 in Paris: 30 minutes before
    r = await cyd.post(f"/api/events/{e['id']}/start")
    assert r.status_code == 403 and code(r) == "not_event_host"
    r = await bob.post(f"/api/events/{e['id']}/start")
    assert r.status_code == 201, r.text
    room = r.json()
    assert (room["title"], room["club_id"], room["members_only"]) == ("Bebop night", c["id"], True)
    event = (await ada.get(f"/api/events/{e['id']}")).json()
    assert event["status"] == "started" and event["room_id"] == room["id"]
    r = await ada.post(f"/api/events/{e['id']}/cancel")
    assert r.status_code == 409 and code(r) == "event_already_started"
    r = await ada.post(f"/api/events/{e['id']}/start")
    assert r.status_code == 409 and code(r) == "event_already_started"
    await join(ada, room["id"])
    assert {m["username"]: m["role"] for m in (await snap(ada, room["id"]))["stage"]} == {
        "bob": "moderator",
        "ada": "moderator",
    }
    r = await cyd.post(f"/api/rooms/{room['id']}/join")
    assert r.status_code == 403 and code(r) == "club_members_only"
    (told,) = heard.of("event.starting")
    assert told.data["event_id"] == e["id"] and told.recipients.event is not None
    assert told.recipients.club == c["id"]
    ids = (await user_id(container, "ada"), await user_id(container, "bob"))
    assert told.recipients.followers_of == ids
    assert told.data["room_id"] == room["id"] and told.data["name"] == "Bebop night"
