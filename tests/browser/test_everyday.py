"""What people reach for every day, in a real browser: search (in English on a phone and in
Arabic on a desktop), the account settings (devices, export, deleting the account), and a
share page's link card with "Sign in to join" leading back into the room."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import ROOM_URL, Person, Server, shoot

# The same person signs in on a second device, and again from a share page, within seconds.
SERVER_ENV = {
    "TOWNHALL_LIMIT_CODE_RESEND_INTERVAL": "100/1",
    "TOWNHALL_LIMIT_CODE_REQUESTS_PER_CLIENT_EMAIL": "100/60",
}


def start_room(person: Person, title: str) -> str:
    page = person.page
    page.get_by_role("link", name="Hallway").first.click()
    page.get_by_text("Start a room").click()
    page.get_by_label("Title (optional)").fill(title)
    page.get_by_role("button", name="Let's go").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    found = ROOM_URL.search(page.url)
    assert found, page.url
    return found.group(1)


def test_search_finds_a_person_and_a_room(people: Any) -> None:
    """A phone in English finds a room by its title and a person by their username; a
    desktop in Arabic finds the same, right to left."""
    ivy = people("ivy")
    start_room(ivy, "Jazz garden")
    omar = people("omar", width=390, height=844)
    page = omar.page
    page.get_by_role("link", name="Search").click()
    page.get_by_label("People, rooms, clubs and events").fill("jazz gar")
    room = page.get_by_role("region", name="Live rooms").get_by_role(
        "link", name=re.compile("Jazz garden")
    )
    expect(room).to_be_visible()
    page.get_by_label("People, rooms, clubs and events").fill("@ivy")
    person = page.get_by_role("region", name="People").get_by_role("link", name=re.compile("@ivy"))
    expect(person).to_be_visible()
    shoot(page, "search-390")
    page.get_by_role("button", name="Follow @ivy").click()
    expect(page.get_by_role("button", name="Unfollow @ivy")).to_be_visible()
    room_search = "#/search?q=jazz"
    page.goto(omar.server.url + "/" + room_search)
    room.click()
    expect(page.get_by_role("heading", name="Jazz garden")).to_be_visible()

    # Rana picks Arabic in her settings (her browser speaks English).
    rana = people("rana", width=1280, height=800)
    page = rana.page
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Language").click()
    page.get_by_label("العربية").check()
    expect(page.get_by_role("heading", name="اللغة")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("link", name="بحث").first.click()
    page.get_by_label("الأشخاص والغرف والنوادي والفعاليات").fill("jazz")
    expect(
        page.get_by_role("region", name="الغرف المباشرة").get_by_role(
            "link", name=re.compile("Jazz garden")
        )
    ).to_be_visible()
    page.get_by_label("الأشخاص والغرف والنوادي والفعاليات").fill("ivy")
    expect(
        page.get_by_role("region", name="الأشخاص").get_by_role("link", name=re.compile("@ivy"))
    ).to_be_visible()
    shoot(page, "search-1280-ar")


def test_sessions_export_and_delete_from_settings(
    people: Any, server: Server, browser: Browser, tmp_path: Path
) -> None:
    """Two devices: the phone signs the laptop out; the data export downloads; deleting the
    account signs the person out for good."""
    zed = people("zed", width=1280, height=800)
    laptop = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        other = Person(server, laptop, zed.email)
        other.open("/")
        other.ask_code()
        expect(other.page.get_by_role("heading", name="Hallway")).to_be_visible()

        page = zed.page
        page.get_by_role("link", name="Profile").click()
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("link", name="Account and devices").click()
        sessions = page.locator(".sessions li")
        expect(sessions).to_have_count(2)
        expect(page.get_by_text("This device")).to_have_count(1)
        page.get_by_role("button", name="Sign out everywhere else").click()
        expect(page.get_by_text("Every other device is signed out.")).to_be_visible()
        expect(sessions).to_have_count(1)
        # The laptop's socket closes and its next look is the sign-in screen.
        other.page.reload()
        expect(other.page.get_by_role("heading", name="Sign in")).to_be_visible()

        with page.expect_download() as download:
            page.get_by_role("link", name="Download my data").click()
        saved = tmp_path / "export.json"
        download.value.save_as(saved)
        data = json.loads(saved.read_text())
        assert data["format"] == "townhall-export/1" and data["account"]["username"] == "zed"
        assert len(data["sessions"]) == 1

        page.get_by_label("Type your username, zed, to confirm").fill("zed")
        page.get_by_role("button", name="Delete my account").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name="Delete your account for good?")).to_be_visible()
        dialog.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_text("Your account was deleted.")).to_be_visible()
    finally:
        laptop.close()


def test_a_share_page_has_a_link_card_and_sign_in_returns_to_the_room(
    people: Any, server: Server, browser: Browser
) -> None:
    """The room's share page, in the visitor's language, carries Open Graph and Twitter
    tags; a member who signs in from it lands in the room."""
    host = people("hana")
    room_id = start_room(host, "Night owls")
    guest = people("gus")
    guest.page.get_by_role("link", name="Profile").click()
    guest.page.get_by_role("button", name="Sign out").click()
    expect(guest.page.get_by_role("heading", name="Sign in")).to_be_visible()

    page = guest.page
    page.goto(f"{server.url}/r/{room_id}")
    og = {
        name: page.locator(f'meta[property="{name}"]').get_attribute("content")
        for name in ("og:title", "og:description", "og:url", "og:image")
    }
    assert og["og:title"] == "Night owls" and og["og:url"] == f"{server.url}/r/{room_id}"
    assert "@hana" in (og["og:description"] or "") and (og["og:image"] or "").endswith(".png")
    assert page.locator('meta[name="twitter:card"]').get_attribute("content") == "summary"
    expect(page.get_by_role("heading", name="Night owls")).to_be_visible()
    shoot(page, "share-room-390")
    page.get_by_role("link", name="Sign in to join").click()
    guest.ask_code()
    expect(page.get_by_role("heading", name="Night owls")).to_be_visible()
    assert page.url.endswith(f"#/room/{room_id}")

    arabic = browser.new_context(locale="ar-SA", viewport={"width": 390, "height": 844})
    try:
        visitor = arabic.new_page()
        visitor.goto(f"{server.url}/r/{room_id}")
        expect(visitor.locator("html")).to_have_attribute("dir", "rtl")
        expect(visitor.get_by_role("link", name="سجّل الدخول للانضمام")).to_be_visible()
    finally:
        arabic.close()


SHOW_PUSH_JS = """
async (item) => {
  await self.showPush(item);
  const shown = await self.registration.getNotifications({ tag: `townhall-${item.id}` });
  return shown.map((n) => ({ title: n.title, body: n.body, dir: n.dir, url: n.data.url }));
}
"""

PUSH_EVENT_JS = """
async (item) => {
  self.dispatchEvent(new PushEvent("push", { data: JSON.stringify(item) }));
  for (let i = 0; i < 200; i++) {
    const shown = await self.registration.getNotifications({ tag: `townhall-${item.id}` });
    if (shown.length) return shown.map((n) => n.body);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return [];
}
"""


def test_the_service_worker_shows_a_push_in_the_chosen_language(people: Any) -> None:
    """A pushed notification is shown by the service worker, worded from the catalogue of
    the language it carries, and leads to what it is about; settings offer push here."""
    pia = people("pia")
    page = pia.page
    pia.context.grant_permissions(["notifications"], origin=pia.server.url)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    worker = pia.context.service_workers[0]
    item = {
        "id": 7, "name": "user.followed", "lang": "ar", "data": {}, "read": False,
        "actor": {"username": "bob", "display_name": "Bob", "avatar_url": None},
    }  # fmt: skip
    shown = worker.evaluate(SHOW_PUSH_JS, item)
    assert shown == [
        {"title": "Townhall", "body": "بدأ Bob بمتابعتك.", "dir": "rtl", "url": "/#/u/bob"}
    ]
    # The same through the push event itself, as the browser delivers it.
    assert worker.evaluate(PUSH_EVENT_JS, {**item, "id": 8, "lang": "en"}) == ["Bob followed you."]

    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="On this device")).to_be_visible()
    expect(page.get_by_role("button", name="Turn on notifications here")).to_be_visible()
