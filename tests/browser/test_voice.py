"""S5 in real browsers: a listener's page hears the person on stage through the media server."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import TONE_HZ, hears, member_tile, wait_until
from tests.browser.test_story import join_from_hallway, start_room


def test_the_audience_hears_the_stage(people: Any) -> None:
    """Cyd speaks (a fake microphone playing a tone); Dee, in the audience, hears that tone."""
    cyd, dee = people("cyd"), people("dee")
    cyd.open("/")
    start_room(cyd, "Tone on stage")
    cyd.page.get_by_role("button", name="Unmute").click()
    expect(member_tile(cyd.page, "cyd").locator(".muted-mark")).to_have_count(0)
    dee.open("/")
    join_from_hallway(dee, "Tone on stage")
    expect(dee.page.get_by_role("button", name="Raise hand")).to_be_visible()  # a listener
    tap = dee.page.get_by_role("button", name="Tap to hear the room")
    if tap.count():
        tap.click()
    wait_until(lambda: hears(dee.page, TONE_HZ), f"Dee's page hears Cyd's {TONE_HZ} Hz tone")
