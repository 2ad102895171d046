"""The room story in two real browsers: start, join, hands, the stage, moderation, removal;
the hallway updating live; the audio between two pages; screenshots for the README."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ROOM_URL,
    TONE_HZ,
    Person,
    confirm,
    end_room,
    hears,
    member_tile,
    room_sheet,
    shoot,
    wait_until,
)


def start_room(person: Person, title: str) -> str:
    page = person.page
    page.get_by_text("Start a room").click()
    page.get_by_label("Title (optional)").fill(title)
    page.get_by_label("Who can raise a hand").select_option("everyone")
    page.get_by_role("button", name="Let's go").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    match = ROOM_URL.search(page.url)
    assert match, page.url
    return match.group(1)


def join_from_hallway(person: Person, title: str) -> None:
    page = person.page
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_role("button", name="Leave quietly")).to_be_visible()


def person_menu(page: Page, username: str) -> Any:
    member_tile(page, username).get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def bring_on_stage(ada: Person, bob: Person) -> None:
    """Bob raises a hand, Ada invites him, he accepts: Bob is a muted speaker."""
    bob.page.get_by_role("button", name="Raise hand").click()
    expect(bob.page.get_by_role("button", name="Lower hand")).to_be_visible()
    ada.page.get_by_role("button", name=f"Invite @{bob.username} to speak").click()
    expect(bob.page.get_by_role("alertdialog")).to_contain_text("A moderator invites you to speak")
    bob.page.get_by_role("button", name="Join the stage").click()
    for page in (ada.page, bob.page):
        expect(
            page.locator(".stage-people").locator(f'[data-username="{bob.username}"]')
        ).to_be_visible()
        expect(member_tile(page, bob.username).locator(".muted-mark")).to_be_visible()


def test_the_room_story(people: Any) -> None:
    ada = people("ada", width=1280, height=800)
    bob = people("bob")
    room_id = start_room(ada, "Tea with Ada")

    # Bob finds the room in his hallway and joins the audience.
    bob.page.reload()
    join_from_hallway(bob, "Tea with Ada")
    expect(member_tile(ada.page, "bob")).to_be_visible()
    expect(ada.page.get_by_text("1 listener")).to_be_visible()

    bring_on_stage(ada, bob)

    # Bob unmutes: the muted mark goes away on both pages.
    bob.page.get_by_role("button", name="Unmute").click()
    for page in (ada.page, bob.page):
        expect(member_tile(page, "bob").locator(".muted-mark")).to_have_count(0)

    # Screenshots of a room with people on stage, desktop and phone.
    shoot(ada.page, "room-desktop", docs=True)
    shoot(bob.page, "room-phone", docs=True)

    # Ada makes Bob a moderator (a star on both pages), then takes it back.
    person_menu(ada.page, "bob").get_by_role("button", name="Make moderator").click()
    for page in (ada.page, bob.page):
        expect(member_tile(page, "bob").locator(".star")).to_be_visible()
    sheet = room_sheet(bob.page)
    expect(sheet.get_by_role("button", name="End room")).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    person_menu(ada.page, "bob").get_by_role("button", name="Remove moderator").click()
    for page in (ada.page, bob.page):
        expect(member_tile(page, "bob").locator(".star")).to_have_count(0)
    sheet = room_sheet(bob.page)  # a speaker's sheet: only leaving the stage
    expect(sheet.get_by_role("button", name="Move to the audience")).to_be_visible()
    expect(sheet.get_by_role("button", name="End room")).to_have_count(0)
    sheet.get_by_role("button", name="Close").click()

    # Ada mutes Bob from his menu; both pages show him muted, and he can unmute again.
    person_menu(ada.page, "bob").get_by_role("button", name="Mute").click()
    for page in (ada.page, bob.page):
        expect(member_tile(page, "bob").locator(".muted-mark")).to_be_visible()
    expect(bob.page.get_by_role("button", name="Unmute")).to_be_visible()

    # Ada removes Bob; he is told, and cannot come back.
    person_menu(ada.page, "bob").get_by_role("button", name="Remove from room").click()
    confirm(ada.page, "Remove from room")
    expect(bob.page.get_by_role("alert")).to_contain_text("A moderator removed you from this room")
    expect(member_tile(ada.page, "bob")).to_have_count(0)
    bob.open(f"/#/room/{room_id}")
    expect(bob.page.get_by_role("alert")).to_have_text(
        "A moderator removed you from this room. You cannot come back into it."
    )

    # Ada ends the room.
    end_room(ada.page)
    expect(ada.page.get_by_text("This room has ended.")).to_be_visible()


def test_the_hallway_updates_without_reloading(people: Any) -> None:
    cat = people("cat")
    dan = people("dan", width=1280, height=800)
    expect(dan.page.get_by_role("heading", name="Hallway")).to_be_visible()
    start_room(cat, "Cat's corner")
    expect(dan.page.get_by_role("link", name="Cat's corner")).to_be_visible(timeout=20_000)
    dan.page.get_by_role("link", name="Cat's corner").click()
    expect(member_tile(cat.page, "dan")).to_be_visible()


def test_ada_hears_bob_until_she_mutes_him(people: Any) -> None:
    # The same two people as the story (each starts from the hallway).
    ada = people("ada", width=1280, height=800)
    bob = people("bob")
    ada.open("/")
    start_room(ada, "Sound check")
    bob.open("/")
    join_from_hallway(bob, "Sound check")
    bring_on_stage(ada, bob)
    bob.page.get_by_role("button", name="Unmute").click()
    for person in (ada, bob):
        tap = person.page.get_by_role("button", name="Tap to hear the room")
        if tap.count():
            tap.click()
    wait_until(lambda: hears(ada.page, TONE_HZ), f"Ada's page hears Bob's {TONE_HZ} Hz tone")

    person_menu(ada.page, "bob").get_by_role("button", name="Mute").click()
    expect(member_tile(ada.page, "bob").locator(".muted-mark")).to_be_visible()
    wait_until(lambda: not hears(ada.page, TONE_HZ), "Bob's tone stops once he is muted")


def test_share_link_previews_for_visitors_and_opens_for_members(people: Any) -> None:
    gus = people("gus")
    room_id = start_room(gus, "Open mic")
    page = httpx.get(f"{gus.server.url}/r/{room_id}")
    assert page.status_code == 200
    assert "Open mic" in page.text
    assert "Sign in to join" in page.text
    # A signed-in person following the link goes straight into the room.
    hal = people("hal")
    hal.open(f"/r/{room_id}")
    expect(hal.page.get_by_role("heading", name="Open mic")).to_be_visible()
    expect(member_tile(gus.page, "hal")).to_be_visible()


def test_screenshots_of_the_hallway(people: Any) -> None:
    """Last in the module, when the rooms of the tests above are live."""
    dan = people("dan", width=1280, height=800)
    dan.page.get_by_role("link", name="Hallway").click()
    # The room's card (Dan is in it, so his mini player names it too).
    expect(dan.page.locator("#app").get_by_role("link", name="Cat's corner")).to_be_visible()
    shoot(dan.page, "hallway-desktop", docs=True)
    dan.page.set_viewport_size({"width": 390, "height": 844})
    shoot(dan.page, "hallway-phone", docs=True)
