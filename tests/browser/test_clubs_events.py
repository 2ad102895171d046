"""Clubs, scheduled events and notifications in real browsers: founding a club and starting a
members-only club room; scheduling an event, its calendar file and the personal feed; a
notification arriving live when someone you follow starts a room."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar
from playwright.sync_api import expect

from tests.browser.conftest import ROOM_URL, Person, end_room, room_sheet, shoot
from tests.browser.test_story import start_room

# One room hosted is enough to found a club here, so the test shows the refusal first.
SERVER_ENV = {"TOWNHALL_CLUB_FOUND_MIN_ROOMS_HOSTED": "1"}
ZONE = "Europe/Rome"


def found_club(person: Person, name: str) -> None:
    page = person.page
    page.get_by_role("link", name="Clubs").click()
    page.get_by_text("Found a club", exact=True).click()
    page.get_by_label("Club name").fill(name)
    page.get_by_label("Description").fill("For people awake at night.")
    page.get_by_label("Rules (one per line)").fill("Be kind\nNo selling")
    page.get_by_label("Who can join").select_option("open")
    page.get_by_role("button", name="Found the club").click()


def test_founding_a_club_a_members_only_room_and_running_the_club(people: Any) -> None:
    fay = people("fay", width=360, height=780)
    found_club(fay, "Night Owls")
    expect(fay.page.get_by_role("alert")).to_have_text(
        "You can found a club after hosting 1 rooms. You have hosted 0 so far."
    )

    # Fay hosts a room (and ends it); then founding works.
    fay.open("/")
    start_room(fay, "Warm-up")
    end_room(fay.page)
    expect(fay.page.get_by_text("This room has ended.")).to_be_visible()
    found_club(fay, "Night Owls")
    expect(fay.page.get_by_role("heading", name="Night Owls")).to_be_visible()
    expect(fay.page.get_by_text("Your role: Founder")).to_be_visible()
    expect(fay.page.get_by_role("listitem").filter(has_text="Be kind")).to_be_visible()
    shoot(fay.page, "club-phone")
    club_url = fay.page.url
    assert re.search(r"#/club/\d+$", club_url), club_url

    # Gil joins the open club; Hugo does not.
    gil = people("gil")
    gil.page.goto(club_url)
    gil.page.get_by_role("button", name="Join", exact=True).click()
    expect(gil.page.get_by_text("Your role: Member")).to_be_visible()
    expect(fay.page.get_by_role("heading", name="Night Owls")).to_be_visible()
    hugo = people("hugo")

    # Fay starts a members-only room from the club's page.
    fay.page.reload()
    fay.page.get_by_text("Start a club room", exact=True).click()
    fay.page.get_by_label("Title (optional)").fill("Owls only")
    fay.page.get_by_label("Members only").check()
    fay.page.get_by_role("button", name="Let's go").click()
    expect(fay.page.get_by_role("heading", name="Owls only")).to_be_visible()
    match = ROOM_URL.search(fay.page.url)
    assert match, fay.page.url
    room_id = match.group(1)
    expect(fay.page.get_by_role("link", name="Club room")).to_be_visible()

    # The member sees it in the hallway; the non-member does not, and cannot enter.
    gil.open("/")
    expect(gil.page.get_by_role("link", name="Owls only")).to_be_visible()
    hugo.open("/")
    rooms = hugo.page.locator("ul.rooms")
    expect(rooms).to_have_attribute("aria-busy", "false")
    expect(hugo.page.get_by_role("link", name="Owls only")).to_have_count(0)
    hugo.open(f"/#/room/{room_id}")
    expect(hugo.page.get_by_role("alert")).to_have_text("This room is for the club's members only.")

    # Gil nominates Hugo; Fay lets him in and makes Gil a leader.
    gil.page.goto(club_url)
    gil.page.get_by_role("textbox", name="Nominate by username").fill("hugo")
    gil.page.get_by_role("button", name="Nominate", exact=True).click()
    expect(gil.page.get_by_text("@hugo is nominated; the admins decide.")).to_be_visible()

    fay.page.goto(club_url)
    waiting = fay.page.get_by_role("region", name="Waiting for a decision")
    expect(waiting.get_by_role("listitem").filter(has_text="@hugo")).to_contain_text("nominated")
    waiting.get_by_role("button", name="Let in").click()
    expect(waiting.get_by_text("Nobody is waiting.")).to_be_visible()
    expect(fay.page.get_by_text("3 members")).to_be_visible()

    fay.page.get_by_label("Role of @gil").select_option("leader")
    expect(fay.page.get_by_label("Role of @gil")).to_have_value("leader")
    gil.page.reload()
    expect(gil.page.get_by_text("Your role: Leader")).to_be_visible()
    expect(gil.page.get_by_text("Start a club room", exact=True)).to_be_visible()
    hugo.page.goto(club_url)
    expect(hugo.page.get_by_text("Your role: Member")).to_be_visible()


def ics_start(text: bytes) -> tuple[str, datetime]:
    calendar = Calendar.from_ical(text)
    (event,) = [c for c in calendar.walk() if c.name == "VEVENT"]
    return str(event["SUMMARY"]), event.decoded("DTSTART")


def schedule(person: Person, name: str, at: datetime) -> None:
    page = person.page
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_role("link", name="Schedule an event").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill("Bring questions.")
    page.get_by_label("Date and time").fill(at.strftime("%Y-%m-%dT%H:%M"))
    expect(page.get_by_text(f"Time zone: {ZONE}")).to_be_visible()
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_scheduling_an_event_and_its_calendar_file(people: Any) -> None:
    ida = people("ida", timezone=ZONE)
    page = ida.page
    tomorrow = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).replace(
        hour=21, minute=30, second=0, microsecond=0, tzinfo=None
    )
    schedule(ida, "Full moon talk", tomorrow)

    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar").click()
    summary, start = ics_start(download.value.path().read_bytes())
    assert summary == "Full moon talk"
    assert start.replace(tzinfo=None) == tomorrow
    assert start.utcoffset() == tomorrow.replace(tzinfo=ZoneInfo(ZONE)).utcoffset()

    page.get_by_role("button", name="Remind me").click()
    expect(page.get_by_role("button", name="Reminder on")).to_have_attribute("aria-pressed", "true")
    shoot(page, "event-phone")

    # The hallway lists it above the rooms and links to its page.
    page.get_by_role("link", name="Hallway").click()
    page.locator(".upcoming").get_by_role("link", name=re.compile("Full moon talk")).click()
    expect(page.get_by_role("heading", name="Full moon talk")).to_be_visible()

    # The personal calendar feed: made, read by a calendar app, then turned off.
    page.get_by_role("link", name="Events", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Full moon talk")).first).to_be_visible()
    page.get_by_role("link", name="Calendar feed").click()
    page.get_by_role("button", name="Make a calendar address").click()
    address = page.get_by_label("Your calendar address").input_value()
    assert re.search(r"/calendar/[^/]+\.ics$", address), address
    feed = httpx.get(address)
    assert feed.status_code == 200 and "Full moon talk" in feed.text
    page.get_by_role("button", name="Turn the address off").click()
    expect(page.get_by_text("The calendar address no longer works.")).to_be_visible()
    assert httpx.get(address).status_code == 410

    # A host starts an event that is due: its room opens.
    soon = (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=30)).replace(tzinfo=None)
    schedule(ida, "Quick chat", soon)
    page.get_by_role("button", name="Start the room").click()
    expect(page).to_have_url(ROOM_URL)
    expect(page.get_by_role("heading", name="Quick chat")).to_be_visible()
    expect(room_sheet(page).get_by_role("button", name="End room")).to_be_visible()


def test_a_notification_arrives_live(people: Any) -> None:
    jon = people("jon")
    kim = people("kim")
    jon.open("/#/u/kim")
    jon.page.get_by_role("button", name="Follow", exact=True).click()
    expect(jon.page.get_by_role("button", name="Unfollow")).to_be_visible()
    jon.page.get_by_role("link", name="Hallway").click()
    bell = jon.page.locator("#nav-bell")
    expect(bell).to_have_attribute("aria-label", "Notifications")

    kim.open("/")
    start_room(kim, "Kim live")
    # Jo's bell counts it without a reload, and a toast says so.
    expect(bell).to_have_attribute("aria-label", "Notifications: 1 unread")
    expect(jon.page.locator("#bell-count")).to_have_text("1")
    expect(jon.page.locator(".toast", has_text="started “Kim live”")).to_be_visible()
    # Kim was told about her new follower.
    expect(kim.page.locator("#nav-bell")).to_have_attribute("aria-label", "Notifications: 1 unread")

    bell.focus()
    jon.page.keyboard.press("Enter")
    expect(jon.page.get_by_role("heading", name="Notifications")).to_be_visible()
    item = jon.page.locator(".inbox").get_by_role("link", name=re.compile("started “Kim live”"))
    expect(item).to_be_visible()
    shoot(jon.page, "inbox-phone")
    item.click()
    expect(jon.page.get_by_role("heading", name="Kim live")).to_be_visible()
    expect(bell).to_have_attribute("aria-label", "Notifications")

    # Settings are kept.
    jon.open("/#/settings")
    fewer = jon.page.get_by_label("Fewer notifications")
    expect(fewer).not_to_be_checked()
    fewer.check()
    expect(jon.page.get_by_text("Saved.")).to_be_visible()
    jon.page.reload()
    expect(jon.page.get_by_label("Fewer notifications")).to_be_checked()
