"""S7 scheduled events over HTTP: scheduling, bad input, editing, cancelling, share link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.api.clubkit import Heard, code, user_id

# The test clock starts at 2026-03-01 12:00 UTC; Paris is then at UTC+1.
EVENT = {
    "name": "Bebop night",
    "description": "Records & <stories>",
    "starts_at": "2026-03-10T20:00",
    "time_zone": "Europe/Paris",
}


async def schedule(client: Any, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/events", json={**EVENT, **body})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def vevent(ics: bytes) -> Any:
    cal = Calendar.from_ical(ics)
    (event,) = [c for c in cal.walk("VEVENT")]
    return event


async def test_schedule_an_event_and_tell_the_hosts_followers(people: Any, container: Any) -> None:
    """The start is kept with its zone; followers of the host are told it was scheduled, and
    of a co-host once they accept (docs/events.md, Co-hosts)."""
    heard = Heard(container)
    ada = await people.member("ada")
    bob = await people.member("bob")
    e = await schedule(ada, cohosts=["@bob", "ada"])
    assert e["starts_at"].startswith("2026-03-10T19:00:00")
    assert (e["local_start"], e["time_zone"]) == ("2026-03-10T20:00", "Europe/Paris")
    assert [h["username"] for h in e["hosts"]] == ["ada"]
    assert [h["username"] for h in e["invited"]] == ["bob"]
    assert e["status"] == "scheduled" and e["is_host"] and e["url"].endswith(f"/e/{e['id']}")
    (told,) = heard.of("event.scheduled")
    ids = (await user_id(container, "ada"), await user_id(container, "bob"))
    assert told.recipients.followers_of == ids[:1] and told.recipients.club is None
    assert told.data["event_id"] == e["id"] and told.data["name"] == "Bebop night"
    (asked,) = heard.of("event.cohost_invited")
    assert asked.recipients.users == ids[1:] and asked.data["event_id"] == e["id"]
    r = await bob.post(f"/api/events/{e['id']}/cohost/accept")
    assert [h["username"] for h in r.json()["hosts"]] == ["ada", "bob"]
    assert [h.recipients.followers_of for h in heard.of("event.scheduled")] == [ids[:1], ids[1:]]


BAD_INPUT = [
    ({"starts_at": "2026-03-01T12:30", "time_zone": "Europe/Paris"}, 400, "event_in_past"),
    ({"time_zone": "Mars/Olympus"}, 400, "unknown_time_zone"),
    ({"time_zone": "../etc/passwd"}, 400, "unknown_time_zone"),
    ({"starts_at": "2027-03-10T20:00"}, 400, "event_too_far_ahead"),
    ({"name": "n" * 61}, 400, "event_name_too_long"),
    ({"name": "   "}, 400, "event_name_missing"),
    ({"description": "d" * 201}, 400, "event_description_too_long"),
    ({"cohosts": ["nobody_here"]}, 400, "cohost_not_member"),
    ({"cohosts": ["waiting"]}, 400, "cohost_not_member"),
    ({"cohosts": ["a1", "a2", "a3", "a4", "a5", "a6"]}, 400, "too_many_cohosts"),
    ({"members_only": True}, 400, "members_only_needs_club"),
    ({"club": 999}, 404, "club_not_found"),
]


async def test_bad_event_input_is_refused_and_changes_nothing(people: Any, container: Any) -> None:
    """Each bad input gets its own code; no event is created and nobody is told."""
    heard = Heard(container)
    ada = await people.member("ada")
    await container.accounts.create_account("waiting@example.org", "waiting", member=False)
    for body, status, error in BAD_INPUT:
        r = await ada.post("/api/events", json={**EVENT, **body})
        assert (r.status_code, code(r)) == (status, error), (body, r.text)
    assert (await ada.get("/api/events/mine")).json()["items"] == []
    assert heard.of("event.scheduled") == []


async def test_edit_keeps_the_calendar_uid_and_raises_the_sequence(people: Any) -> None:
    """The .ics has the zone in DTSTART, the name, the share URL; edits keep UID, bump SEQUENCE."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    e = await schedule(ada)
    first = vevent((await bob.get(f"/api/events/{e['id']}/calendar.ics")).content)
    start = first.decoded("dtstart")
    assert start == datetime(2026, 3, 10, 20, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert first["dtstart"].params["TZID"] == "Europe/Paris"
    assert str(first["summary"]) == "Bebop night" and str(first["url"]) == e["url"]
    r = await bob.patch(f"/api/events/{e['id']}", json={"name": "Hijack"})
    assert r.status_code == 403 and code(r) == "not_event_creator"
    r = await ada.patch(f"/api/events/{e['id']}", json={"time_zone": "Nowhere/Land"})
    assert code(r) == "unknown_time_zone"
    r = await ada.patch(
        f"/api/events/{e['id']}", json={"name": "Swing night", "starts_at": "2026-03-11T09:15"}
    )
    assert r.status_code == 200 and r.json()["local_start"] == "2026-03-11T09:15"
    r = await ada.patch(f"/api/events/{e['id']}", json={"time_zone": "America/New_York"})
    assert r.json()["local_start"] == "2026-03-11T04:15"
    second = vevent((await bob.get(f"/api/events/{e['id']}/calendar.ics")).content)
    assert str(second["uid"]) == str(first["uid"])
    assert int(second["sequence"]) > int(first["sequence"])
    assert str(second["summary"]) == "Swing night"
    assert second.decoded("dtstart").astimezone(UTC) == datetime(2026, 3, 11, 8, 15, tzinfo=UTC)
    assert second["dtstart"].params["TZID"] == "America/New_York"


async def test_cancel_only_before_the_start(people: Any, clock: Any) -> None:
    """Cancelling works once; a cancelled, started or past event is refused and unchanged."""
    ada = await people.member("ada")
    e = await schedule(ada)
    late = await schedule(ada, name="Soon", starts_at="2026-03-02T10:00")
    r = await ada.post(f"/api/events/{e['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    ics = vevent((await ada.get(f"/api/events/{e['id']}/calendar.ics")).content)
    assert str(ics["status"]) == "CANCELLED"
    r = await ada.post(f"/api/events/{e['id']}/cancel")
    assert r.status_code == 409 and code(r) == "event_cancelled"
    r = await ada.patch(f"/api/events/{e['id']}", json={"name": "Back"})
    assert r.status_code == 409 and code(r) == "event_cancelled"
    clock.advance(days=2)
    r = await ada.post(f"/api/events/{late['id']}/cancel")
    assert r.status_code == 409 and code(r) == "event_already_past"
    assert (await ada.get(f"/api/events/{late['id']}")).json()["status"] == "scheduled"


async def test_share_link_previews_without_signing_in(people: Any, client: Any) -> None:
    """/e/{id} shows name, time and hosts, escaped and not indexed; JSON preview too."""
    ada = await people.member("ada")
    e = await schedule(ada, name="<b>Bold</b> night")
    page = await client.get(f"/e/{e['id']}")
    assert page.status_code == 200 and page.headers["x-robots-tag"] == "noindex"
    assert "&lt;b&gt;Bold&lt;/b&gt; night" in page.text and "<b>Bold" not in page.text
    assert "Records &amp; &lt;stories&gt;" in page.text and "@ada" in page.text
    assert "2026-03-10 20:00 (Europe/Paris)" in page.text
    preview = (await client.get(f"/api/events/{e['id']}/preview")).json()
    assert preview["name"] == "<b>Bold</b> night" and "reminded" not in preview
    assert (await client.get("/e/12345")).status_code == 404
    assert (await client.get("/e/abc")).status_code == 404
