"""iCalendar (RFC 5545) files for scheduled events: one event's file, or a personal feed.

Each event keeps one ``UID`` for its whole life and a ``SEQUENCE`` that grows with every
change, so calendar applications update the entry they already have instead of adding a
second one. Start times carry their IANA zone (``DTSTART;TZID=...``) with a matching
``VTIMEZONE``. Events have no end time; the file says one hour, as calendars expect one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as VEvent

PRODID = "-//Townhall//Scheduled events//EN"
SHOWN_DURATION = timedelta(hours=1)


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    sequence: int
    name: str
    description: str
    starts_at: datetime
    time_zone: str
    url: str
    cancelled: bool
    created_at: datetime
    updated_at: datetime
    hosts: tuple[str, ...]


def render(entries: list[CalendarEntry], now: datetime, title: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if title is not None:
        cal.add("x-wr-calname", title)
    for entry in entries:
        start = entry.starts_at.astimezone(ZoneInfo(entry.time_zone))
        ev = VEvent()
        ev.add("uid", entry.uid)
        ev.add("dtstamp", now)
        ev.add("sequence", entry.sequence)
        ev.add("dtstart", start)
        ev.add("dtend", start + SHOWN_DURATION)
        ev.add("summary", entry.name)
        hosts = ", ".join(f"@{h}" for h in entry.hosts)
        text = entry.description + (f"\n\nHosted by {hosts}" if hosts else "")
        ev.add("description", f"{text.strip()}\n\n{entry.url}".strip())
        ev.add("url", entry.url)
        ev.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
        ev.add("created", entry.created_at)
        ev.add("last-modified", entry.updated_at)
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
