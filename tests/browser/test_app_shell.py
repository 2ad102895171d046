"""The app shell in Chromium: the mini player (a speaker mutes from another page and the
audience stops hearing them), the phone's tab bar, dark mode, and the Arabic layout."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import TONE_HZ, hears, member_tile, shoot, wait_until
from tests.browser.test_story import join_from_hallway, start_room

LUMINANCE_JS = """
(selector) => {
  const [r, g, b] = getComputedStyle(document.querySelector(selector)).backgroundColor
    .match(/[\\d.]+/g).slice(0, 3).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}
"""


def mini_player(page: Page, title: str) -> Any:
    return page.get_by_role("complementary", name=f"You are in “{title}”")


def tap_to_hear(page: Page) -> None:
    tap = page.get_by_role("button", name="Tap to hear the room")
    if tap.count():
        tap.click()


def test_a_speaker_mutes_from_the_mini_player_and_the_audience_stops_hearing(
    people: Any,
) -> None:
    moe, nia = people("moe"), people("nia")
    start_room(moe, "Walk and talk")
    moe.page.get_by_role("button", name="Unmute").click()
    expect(member_tile(moe.page, "moe").locator(".muted-mark")).to_have_count(0)
    nia.open("/")
    join_from_hallway(nia, "Walk and talk")
    tap_to_hear(nia.page)
    wait_until(lambda: hears(nia.page, TONE_HZ), f"Nia hears Moe's {TONE_HZ} Hz tone")

    # In the room there is no mini player; on another page there is, with the room in it.
    expect(mini_player(moe.page, "Walk and talk")).to_be_hidden()
    moe.page.get_by_role("link", name="Search").click()
    expect(moe.page.get_by_role("heading", name="Search")).to_be_visible()
    player = mini_player(moe.page, "Walk and talk")
    expect(player).to_be_visible()
    expect(player.get_by_text("Walk and talk")).to_be_visible()
    expect(player.locator('.face[data-username="moe"]')).to_be_visible()
    shoot(moe.page, "mini-player", docs=True)

    # Moe mutes from it, still on the search page: Nia stops hearing him.
    player.get_by_role("button", name="Mute").click()
    expect(player.get_by_role("button", name="Unmute")).to_be_visible()
    expect(member_tile(nia.page, "moe").locator(".muted-mark")).to_be_visible()
    wait_until(lambda: not hears(nia.page, TONE_HZ), "Moe's tone stops once he mutes")
    expect(moe.page.get_by_role("heading", name="Search")).to_be_visible()

    # A listener raises a hand from their mini player; the moderator sees the hand.
    nia.page.get_by_role("link", name="Clubs").click()
    nia_player = mini_player(nia.page, "Walk and talk")
    nia_player.get_by_role("button", name="Raise hand").click()
    expect(nia_player.get_by_role("button", name="Lower hand")).to_be_visible()
    player.get_by_role("link", name="Back to the room").click()
    expect(moe.page.get_by_role("heading", name="Walk and talk")).to_be_visible()
    expect(player).to_be_hidden()
    expect(moe.page.get_by_role("button", name="Invite @nia to speak")).to_be_visible()

    # Leaving from the mini player takes it away.
    nia_player.get_by_role("button", name="Leave quietly").click()
    expect(nia_player).to_be_hidden()
    expect(member_tile(moe.page, "nia")).to_have_count(0)


def test_the_phone_tab_bar_marks_the_current_tab(people: Any) -> None:
    oli = people("oli")  # 390 x 844
    page = oli.page
    nav = page.get_by_role("navigation", name="Main")
    box = nav.bounding_box()
    assert box and abs(box["y"] + box["height"] - 844) <= 1, box  # at the bottom
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    hallway = nav.get_by_role("link", name="Hallway")
    expect(hallway).to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Events")).to_have_attribute("aria-current", "page")
    expect(hallway).not_to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="Profile").click()
    expect(nav.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
    # Every tab shows in one row, none cut off the screen.
    tops = {round(nav.get_by_role("link").nth(i).bounding_box()["y"]) for i in range(6)}
    assert len(tops) == 1, tops
    shoot(page, "tabs-phone")
    # On a desktop the navigation is back in the top bar.
    page.set_viewport_size({"width": 1280, "height": 800})
    box = nav.bounding_box()
    assert box and box["y"] < 100, box
    page.set_viewport_size({"width": 390, "height": 844})


def test_dark_mode_follows_the_system(people: Any) -> None:
    pia = people("pia")
    page = pia.page
    page.get_by_role("link", name="Hallway").click()
    assert page.evaluate(LUMINANCE_JS, "body") > 0.8
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(LUMINANCE_JS, "body") < 0.15
    assert page.evaluate(LUMINANCE_JS, "nav") < 0.25
    start_room(pia, "Night owls")
    assert page.evaluate(LUMINANCE_JS, ".room") < 0.25
    shoot(page, "room-dark", docs=True)
    page.get_by_role("link", name="Hallway").click()
    expect(mini_player(page, "Night owls")).to_be_visible()
    expect(page.locator("#app").get_by_role("link", name="Night owls")).to_be_visible()
    assert page.evaluate(LUMINANCE_JS, "#inroom") < 0.25
    shoot(page, "hallway-dark", docs=True)
    mini_player(page, "Night owls").get_by_role("button", name="Leave quietly").click()
    page.emulate_media(color_scheme="light")


def test_arabic_lays_the_shell_out_right_to_left(people: Any) -> None:
    rai = people("rai")
    page = rai.page
    page.get_by_role("combobox", name="Language").select_option("ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    nav = page.get_by_role("navigation", name="القائمة الرئيسية")
    first = nav.get_by_role("link").first.bounding_box()
    last = nav.get_by_role("link").last.bounding_box()
    assert first and last and first["x"] > last["x"]  # the first tab is on the right
    expect(nav.get_by_role("link").first).to_have_attribute("aria-current", "page")
    page.get_by_text("ابدأ غرفة").click()
    page.get_by_role("button", name="لنبدأ").click()
    toolbar = page.get_by_role("toolbar")
    leave = toolbar.get_by_role("button").first.bounding_box()
    more = toolbar.get_by_role("button").last.bounding_box()
    assert leave and more and leave["x"] > more["x"]  # leaving sits on the starting (right) side
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    shoot(page, "room-arabic")
    nav.get_by_role("link").first.click()
    player = page.locator("#inroom")
    expect(player).to_be_visible()
    room_link = player.locator(".mini-room").bounding_box()
    buttons = player.locator(".mini-controls").bounding_box()
    assert room_link and buttons and room_link["x"] > buttons["x"]
    shoot(page, "mini-player-arabic")
    page.get_by_role("combobox").select_option("en")
