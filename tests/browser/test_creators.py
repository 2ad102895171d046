"""Creators in real browsers (S10): a listener tips the host from the person's sheet (the
fee shown first, the room told), and buys a ticket to an event whose room only ticket
holders enter; the host sees the money on the earnings screen."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import ROOM_URL, member_tile, shoot
from tests.browser.test_clubs_events import ZONE, schedule
from tests.browser.test_story import start_room


def test_a_tip_from_the_persons_sheet_reaches_the_host_and_the_room_hears_it(
    people: Any,
) -> None:
    ada = people("adam")
    bo = people("bori")
    room = start_room(ada, "Tip jar")
    bo.open(f"/#/room/{room}")
    expect(bo.page.get_by_role("heading", name="Tip jar")).to_be_visible()

    member_tile(bo.page, "adam").get_by_role("button").click()
    bo.page.get_by_role("button", name="Tip", exact=True).click()
    sheet = bo.page.get_by_role("dialog", name=re.compile("^Tip "))
    sheet.get_by_label("Amount", exact=True).fill("5")
    expect(
        sheet.get_by_text(re.compile(r"€5\.00 to them, €[0-9.]+ provider's fee: you pay €"))
    ).to_be_visible()
    sheet.get_by_label("Show the room the amount").check()
    shoot(bo.page, "tip-sheet-phone")
    sheet.get_by_role("button", name="Send tip").click()
    expect(bo.page.get_by_text(re.compile(r"You tipped .+ €5\.00\."))).to_be_visible()
    # The room hears it, with the amount the tipper chose to show.
    expect(ada.page.get_by_text("@bori tipped @adam €5.00")).to_be_visible()

    ada.open("/#/earnings")
    expect(ada.page.get_by_role("heading", name="Earnings and payments")).to_be_visible()
    expect(ada.page.locator('[data-key="balance"]')).to_have_text("€5.00")
    expect(ada.page.locator('[data-key="history"]')).to_contain_text("Tip")
    bo.open("/#/earnings")
    expect(bo.page.locator('[data-key="paid"]')).to_contain_text("@adam")


def test_a_ticket_bought_on_the_events_page_opens_its_room(people: Any) -> None:
    cy = people("cyra", timezone=ZONE)
    dee = people("deen", timezone=ZONE)
    eve = people("evan", timezone=ZONE)
    soon = (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=30)).replace(
        second=0, microsecond=0, tzinfo=None
    )
    schedule(cy, "Paid talk", soon)
    event_url = cy.page.url
    cy.page.get_by_label("Ticket price").fill("12")
    cy.page.get_by_role("button", name="Set the price").click()
    expect(cy.page.get_by_text("€12.00 a ticket")).to_be_visible()

    dee.page.goto(event_url)
    expect(dee.page.get_by_text("€12.00 a ticket")).to_be_visible()
    expect(dee.page.locator('[data-key="ticket-quote"]')).to_contain_text("you pay")
    dee.page.get_by_role("button", name="Buy a ticket").click()
    expect(dee.page.get_by_text("You have a ticket.")).to_be_visible()
    shoot(dee.page, "ticket-phone")

    cy.page.reload()
    cy.page.get_by_role("button", name="Start the room").click()
    expect(cy.page).to_have_url(ROOM_URL)
    expect(cy.page.get_by_role("toolbar", name="Room controls")).to_be_visible()
    match = ROOM_URL.search(cy.page.url)
    assert match, cy.page.url
    dee.page.reload()
    dee.page.get_by_role("link", name="Join the room").click()
    expect(dee.page.get_by_role("heading", name="Paid talk")).to_be_visible()
    eve.open(f"/#/room/{match.group(1)}")
    expect(eve.page.get_by_role("alert")).to_have_text("This room is for ticket holders.")
