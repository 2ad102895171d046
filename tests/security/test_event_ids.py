"""Issue 11 item 13: events are addressed by a random public id, never by a number to count."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from icalendar import Calendar

from tests.api.clubkit import found
from tests.api.roomkit import follow
from tests.api.test_events import schedule

PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{22}")


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_members_only_events_cannot_be_counted_through(people: Any, client: Any) -> None:
    """Event ids are 22 random characters; small numbers find nothing, on the API or the share
    page, where they used to lead to every event, members-only ones included."""
    ada = await people.member("ada")
    c = await found(ada)
    hidden = await schedule(ada, name="Members", club=c["id"], members_only=True)
    other = await schedule(ada, name="Open")
    for e in (hidden, other):
        assert PUBLIC_ID.fullmatch(e["id"]), e["id"]
        assert e["url"].endswith(f"/e/{e['id']}")
    assert hidden["id"] != other["id"]
    for n in range(1, 6):
        for path in (
            f"/api/events/{n}",
            f"/api/events/{n}/preview",
            f"/api/events/{n}/calendar.ics",
        ):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get(f"/e/{n}")).status_code == 404
    r = await client.get(f"/api/events/{hidden['id']}/preview")
    assert r.status_code == 200 and r.json()["name"] == "Members"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_no_number_leaks_through_links_lists_or_calendars(people: Any, client: Any) -> None:
    """The lists, their cursors, the calendar file's UID and URL and the notifications' data
    carry the public id only."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await follow(bob, "ada")
    first = await schedule(ada, name="First")
    await schedule(ada, name="Second", starts_at="2026-03-11T20:00")
    page = await ada.get("/api/events/mine", params={"limit": 1})
    assert page.status_code == 200
    assert [e["id"] for e in page.json()["items"]] == [first["id"]]
    cursor = page.json()["next_cursor"]
    assert first["id"] in base64.urlsafe_b64decode(cursor + "==").decode()
    ics = (await client.get(f"/api/events/{first['id']}/calendar.ics")).content
    (entry,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(entry["uid"]).startswith(f"event-{first['id']}@")
    assert str(entry["url"]).endswith(f"/e/{first['id']}")
    told = (await bob.get("/api/notifications", params={"limit": 100})).json()["items"]
    scheduled = [n for n in told if n["name"] == "event.scheduled"]
    assert scheduled and {n["data"]["event_id"] for n in scheduled} >= {first["id"]}
    for n in scheduled:
        assert PUBLIC_ID.fullmatch(n["data"]["event_id"])
        assert n["data"]["url"].endswith(f"/e/{n['data']['event_id']}")
