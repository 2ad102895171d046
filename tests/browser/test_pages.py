"""The rest of the app in a real browser: languages and right-to-left, the keyboard,
invitations, profiles and following."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Person, Server, shoot

# Every control on the page, with the name a screen reader would announce (or "" if none).
UNNAMED_JS = """
() => [...document.querySelectorAll("button, a[href], select, input, textarea, summary")]
  .filter((node) => node.offsetParent !== null)
  .filter((node) => {
    const label = node.getAttribute("aria-label") || (node.labels && node.labels.length
      ? node.labels[0].textContent : "") || node.textContent || node.getAttribute("title");
    return !String(label || "").trim();
  })
  .map((node) => node.outerHTML.slice(0, 120))
"""

FOCUSED_JS = """
() => {
  const node = document.activeElement;
  if (!node || node === document.body) return "";
  return (node.getAttribute("aria-label") || node.textContent || node.id || node.tagName).trim();
}
"""


def tab_through(page: Page, presses: int = 40) -> list[str]:
    """The names of what the Tab key reaches, in order, from the top of the page."""
    page.locator("body").focus()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(FOCUSED_JS))
    return reached


def test_arabic_is_right_to_left_and_the_language_can_be_switched(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context(locale="ar-EG", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.get_by_role("heading", name="تسجيل الدخول")).to_be_visible()
        page.get_by_role("combobox", name="اللغة").select_option("en")
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("button", name="Send me a code")).to_be_visible()
        # The choice is remembered over the browser's own language.
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_role("combobox", name="Language").select_option("ko")
        expect(page.get_by_role("heading", name="로그인")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        page.get_by_role("combobox", name="언어").select_option("ru")
        expect(page.get_by_role("button", name="Прислать код")).to_be_visible()
    finally:
        context.close()


def fits(page: Page) -> bool:
    """Nothing sticks out sideways (no horizontal scrolling)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"))


def test_the_keyboard_reaches_the_main_controls_and_all_are_labelled(people: Any) -> None:
    kim = people("kim", width=360, height=740)
    page = kim.page
    assert fits(page)
    reached = tab_through(page, 16)
    for name in ("Skip to content", "Hallway", "Invites", "Profile", "Start a room"):
        assert name in reached, reached
    assert page.evaluate(UNNAMED_JS) == []

    # Open the start form with the keyboard and start a room.
    page.get_by_text("Start a room").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Title (optional)").fill("Keys only")
    page.get_by_label("Title (optional)").press("Enter")
    expect(page.get_by_role("heading", name="Keys only")).to_be_visible()
    reached = tab_through(page, 30)
    for name in ("Leave quietly", "Unmute", "Ping a follower", "Share", "More"):
        assert name in reached, reached
    assert page.evaluate(UNNAMED_JS) == []
    assert fits(page)
    # The moderators' actions are in the overflow sheet; a lone moderator cannot leave the stage.
    page.get_by_role("button", name="More").focus()
    page.keyboard.press("Enter")
    sheet = page.get_by_role("dialog", name="Room controls")
    expect(sheet.get_by_role("button", name="End room")).to_be_visible()
    expect(sheet.get_by_label("Who can raise a hand")).to_be_visible()
    expect(sheet.get_by_role("button", name="Move to the audience")).to_have_count(0)
    shoot(page, "room-sheet-phone")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    # Everyone on stage is a labelled button that opens their menu.
    page.get_by_role("button", name=re.compile(r"@kim, moderator, muted")).press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()


def test_an_invite_link_lets_a_friend_in_and_profiles_show_it(
    people: Any, server: Server, browser: Browser
) -> None:
    lea = people("lea", width=1280, height=800)
    page = lea.page

    # Lea gives herself a picture, a name and a bio.
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Edit profile").click()
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(picture, "PNG")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "lea.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
    )
    page.get_by_role("button", name="Upload picture").click()
    expect(page.get_by_text("Picture updated.")).to_be_visible()
    expect(page.locator(".avatar-edit img")).to_have_attribute("src", re.compile(r"^/files/"))
    page.get_by_label("Name").fill("Lea Marin")
    page.get_by_label("Bio").fill("Radio, maps and tea.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Lea Marin")).to_be_visible()
    expect(page.get_by_text("Radio, maps and tea.")).to_be_visible()

    # She makes an invite link.
    page.get_by_role("link", name="Invites").click()
    expect(page.get_by_text("You have 2 invites left.")).to_be_visible()
    page.get_by_role("button", name="Make a link").click()
    link = page.get_by_label("Invitation link").input_value()
    expect(page.get_by_text("You have 1 invite left.")).to_be_visible()
    assert "/invite/" in link

    # Max opens it in his own browser, signs up, and is a member at once.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        max_ = Person(server, context, "max@example.org")
        max_.page.goto(link)
        expect(max_.page.get_by_text("@lea invited you to Townhall.")).to_be_visible()
        max_.ask_code()
        # A badly formed username is explained in words, not the browser's pattern message.
        max_.page.get_by_label("Choose a username").fill("Max Power")
        max_.page.get_by_role("button", name="Sign in").click()
        explained = max_.page.get_by_text(re.compile("Use only lower-case letters a.z, digits"))
        expect(explained).to_be_visible()
        max_.page.get_by_label("Choose a username").fill("max")
        max_.page.get_by_role("button", name="Sign in").click()

        # He is a member at once and is welcomed: his name and a photo, cropped square.
        welcome = max_.page
        expect(welcome.get_by_role("heading", name="Welcome to Townhall")).to_be_visible()
        assert "/invite/" not in welcome.url
        welcome.get_by_label("Your name").fill("Max Ernst")
        wide = io.BytesIO()
        Image.new("RGB", (640, 360), (200, 40, 40)).save(wide, "PNG")
        welcome.get_by_label("A photo of you").set_input_files(
            {"name": "me.png", "mimeType": "image/png", "buffer": wide.getvalue()}
        )
        crop = welcome.get_by_role("img", name=re.compile("cropped to a square"))
        expect(crop).to_be_visible()
        crop.press("ArrowLeft")
        welcome.get_by_role("button", name="Save and continue").click()

        # He follows Lea, who let him in, and is offered people to follow.
        expect(welcome.get_by_role("heading", name="Follow people")).to_be_visible()
        expect(welcome.get_by_text("@lea let you in, and you follow them.")).to_be_visible()
        expect(welcome.locator("ul.people-list")).to_have_attribute("aria-busy", "false")
        shoot(welcome, "welcome-people")
        welcome.get_by_role("button", name="Done").click()
        expect(welcome.get_by_role("heading", name="Hallway")).to_be_visible()
        me = httpx.get(
            f"{server.url}/api/me", cookies=dict((c["name"], c["value"]) for c in context.cookies())
        ).json()
        assert me["display_name"] == "Max Ernst" and me["avatar_url"]
        square = httpx.get(server.url + me["avatar_url"]).content
        assert Image.open(io.BytesIO(square)).size[0] == Image.open(io.BytesIO(square)).size[1]

        # On Lea's profile he already follows her.
        max_.page.goto(server.url + "/#/u/lea")
        expect(max_.page.get_by_role("heading", name="Lea Marin")).to_be_visible()
        expect(max_.page.get_by_role("button", name="Unfollow")).to_be_visible()
        expect(max_.page.get_by_text("1 follower", exact=True)).to_be_visible()

        # Max's own profile says who nominated him.
        max_.page.get_by_role("link", name="Profile").click()
        expect(max_.page.get_by_text(re.compile(r"Joined .* · Nominated by @lea"))).to_be_visible()

        # Lea sees her new follower, who follows her.
        page.goto(server.url + "/#/u/lea/followers")
        page.locator("#app").get_by_role("link", name=re.compile("@max")).click()
        expect(page.get_by_text("Follows you")).to_be_visible()

        # Lea starts a room and pings Max into it; Max follows the notice in.
        page.get_by_role("link", name="Hallway").click()
        page.get_by_text("Start a room").click()
        page.get_by_label("Title (optional)").fill("Lea's radio")
        page.get_by_role("button", name="Let's go").click()
        page.get_by_role("button", name="Ping a follower").click()
        page.get_by_role("dialog").get_by_role("button", name="Ping Max Ernst").click()
        expect(page.get_by_role("dialog")).to_contain_text("Max Ernst was pinged.")
        page.keyboard.press("Escape")
        notice = max_.page.get_by_role("status").filter(
            has_text="Lea Marin invites you to “Lea's radio”."
        )
        notice.get_by_role("link", name="Join").click()
        expect(max_.page.get_by_role("heading", name="Lea's radio")).to_be_visible()
        expect(page.locator('.person[data-username="max"]')).to_be_visible()
    finally:
        context.close()


def test_a_member_lets_a_waitlisted_friend_in(
    people: Any, server: Server, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        wes = Person(server, context, "wes@example.org")
        wes.open("/")
        wes.ask_code()
        wes.page.get_by_label("Choose a username").fill("wes")
        wes.page.get_by_role("button", name="Sign in").click()
        expect(wes.page.get_by_role("heading", name="You're on the list")).to_be_visible()

        ned = people("ned")
        page = ned.page
        page.get_by_role("link", name="Invites").click()
        expect(page.get_by_text("None of your contacts is waiting.")).to_be_visible()
        page.get_by_label("Email addresses of people you know").fill(
            "Wes@Example.org\nnobody@example.org"
        )
        page.get_by_role("button", name="Find friends on the waitlist").click()
        expect(page.get_by_text("You shared 2 contacts.", exact=False)).to_be_visible()
        page.get_by_role("button", name="Let @wes in").click()
        expect(page.get_by_text("@wes is in.")).to_be_visible()
        # Letting someone in spends no invite; mailing one does.
        expect(page.get_by_text("You have 2 invites left.")).to_be_visible()
        page.get_by_label("Their email address").fill("zoe@example.org")
        page.get_by_role("button", name="Send invite").click()
        expect(page.get_by_text("Invitation sent to zoe@example.org.")).to_be_visible()
        expect(page.get_by_text("You have 1 invite left.")).to_be_visible()
        assert server.mailbox.to("zoe@example.org")

        # Wes's open waitlist page changed by itself (no "Check again"), and he was mailed.
        wes.skip_welcome()
        assert any("You're in" in m["Subject"] for m in server.mailbox.to("wes@example.org"))
    finally:
        context.close()


def test_the_app_is_installable_and_starts_offline(server: Server, browser: Browser) -> None:
    manifest = httpx.get(f"{server.url}/manifest.webmanifest").json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        answer = httpx.get(server.url + icon["src"])
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(answer.content)).size
        assert f"{width}x{height}" == icon["sizes"]

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        script = page.evaluate("async () => (await navigator.serviceWorker.ready).active.scriptURL")
        assert script == f"{server.url}/sw.js"
        # Once the worker controls the page, the shell comes from its cache when offline.
        page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        context.set_offline(True)
        page.reload()
        expect(page.get_by_role("link", name="Townhall")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text("No connection to the server.")
    finally:
        context.close()


def test_a_sign_in_link_asks_before_it_signs_in(server: Server, browser: Browser) -> None:
    """An operator's link opens a confirmation; only the click signs in (docs/security.md)."""
    server.cli("create-member", "--email", "linked@example.org", "--username", "linked")
    link = server.cli("signin-link", "linked").strip().splitlines()[-1]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="Sign in with a link")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "townhall_session"]
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Hallway")).to_be_visible()
        assert page.url == f"{server.url}/"
    finally:
        context.close()
