"""Trust and safety in real browsers: a listener reports the speaker from the room's sheet,
a member of staff finds the report in the console and plays the room's sealed audio, then
warns the speaker; blocking from a profile and "Blocked people"; the room's notice and the
moderator's guide in every language."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ROOT,
    TONE_HZ,
    Server,
    confirm,
    end_room,
    hears,
    member_tile,
    shoot,
    wait_until,
)
from tests.browser.test_story import join_from_hallway, start_room

CATALOGUES = ROOT / "src" / "townhall" / "web" / "i18n"


def admin_get(server: Server, path: str) -> Any:
    answer = httpx.get(server.url + path, headers={"Authorization": f"Bearer {server.admin_token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def sealed(server: Server, report_id: int) -> bool:
    """The report's room audio is sealed and complete (its room ended)."""
    audio = admin_get(server, f"/api/admin/reports/{report_id}")["audio"]
    return bool(audio and audio["timeline"]["ended_at"])


def audio_metadata(page: Page) -> dict[str, Any] | None:
    found: dict[str, Any] | None = page.evaluate(
        """() => {
          const a = document.querySelector(".incident-audio audio");
          return a ? {ready: a.readyState, duration: a.duration, error: a.error && a.error.code}
                   : null;
        }"""
    )
    return found


def test_a_report_from_the_room_sheet_reaches_the_console_and_its_audio_plays(
    people: Any, server: Server
) -> None:
    sam = people("sam", width=1280, height=800)
    lis = people("lis")
    start_room(sam, "Rough talk")
    sam.page.get_by_role("button", name="Unmute").click()
    expect(sam.page.get_by_role("button", name="Mute", exact=True)).to_be_visible()

    # The room says plainly what it keeps, in this server's own figures.
    notice = sam.page.locator("details.notice")
    expect(notice.locator("summary")).to_have_text(
        "Nothing here is recorded unless someone reports abuse."
    )
    notice.locator("summary").click()
    expect(notice).to_contain_text("the last 15 minutes")
    expect(notice).to_contain_text("for at most 30 days")
    shoot(sam.page, "room-notice")

    lis.page.reload()
    join_from_hallway(lis, "Rough talk")
    tap = lis.page.get_by_role("button", name="Tap to hear the room")
    if tap.count():
        tap.click()
    wait_until(lambda: hears(lis.page, TONE_HZ), "Lis hears Sam's tone: the room has audio")

    # Lis reports Sam from Sam's sheet in the room.
    member_tile(lis.page, "sam").get_by_role("button").click()
    expect(lis.page.get_by_role("dialog").get_by_role("button", name="Block")).to_be_visible()
    shoot(lis.page, "person-sheet")
    lis.page.get_by_role("dialog").get_by_role("button", name="Report", exact=True).click()
    dialog = lis.page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Report @sam")
    expect(dialog).to_contain_text("The person you report is never told it was you.")
    dialog.get_by_label("What is wrong?").select_option("harassment")
    dialog.get_by_label("What happened (optional)").fill("He shouted insults at a listener.")
    shoot(lis.page, "report-dialog")
    with lis.page.expect_response("**/api/reports") as filed:
        dialog.get_by_role("button", name="Send the report").click()
    report_id = filed.value.json()["id"]
    expect(dialog.get_by_role("heading")).to_have_text("Thank you")
    dialog.get_by_role("button", name="Close").click()
    expect(lis.page.get_by_role("dialog")).to_have_count(0)

    # The room ends; its sealed audio is complete.
    end_room(sam.page)
    expect(sam.page.get_by_text("This room has ended.")).to_be_visible()
    wait_until(lambda: sealed(server, report_id), "the room's audio sealed and ended")

    # The console is for staff only: Lis has no link to it and is refused there.
    expect(lis.page.get_by_role("link", name="Staff")).to_be_hidden()
    lis.open("/#/staff")
    expect(lis.page.get_by_role("alert")).to_have_text("Only this server's staff can do this.")

    # Tess, trust and safety, finds the report in the queue.
    tess = people("tess", width=1280, height=800)
    server.cli("set-staff-role", "tess", "trust_safety")
    tess.page.reload()
    tess.page.get_by_role("link", name="Staff").click()
    expect(tess.page.get_by_role("heading", name="Reports")).to_be_visible()
    expect(tess.page.get_by_label("Status")).to_contain_text("Open (1)")
    expect(tess.page.get_by_label("Category")).to_contain_text("Harassment or bullying (1)")
    row = tess.page.locator(f'.report-row[data-id="{report_id}"]')
    expect(row).to_contain_text("@sam")
    expect(row).to_contain_text("filed by @lis")
    shoot(tess.page, "staff-queue")
    tess.page.get_by_label("Reported person").fill("@sam")
    tess.page.get_by_role("button", name="Apply").click()
    expect(tess.page).to_have_url(f"{server.url}/#/staff?status=open&user=sam")
    row.get_by_role("link").click()

    # The report's page: the room then, who spoke, and the audio.
    page = tess.page
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Report {report_id} · Harassment or bullying"
    )
    expect(page.get_by_text("He shouted insults at a listener.")).to_be_visible()
    snapshot = page.locator(".snapshot")
    expect(snapshot).to_contain_text("Rough talk")
    expect(snapshot).to_contain_text("@sam · moderator · unmuted")
    speaking = page.locator(".timeline-group").filter(has_text="Speaking")
    expect(speaking).to_contain_text("@sam")
    with page.expect_response(f"**/api/admin/reports/{report_id}/audio") as fetched:
        page.get_by_role("button", name="Listen to the audio").click()
    assert fetched.value.status == 200
    assert fetched.value.headers["content-type"] == "audio/ogg"
    wait_until(
        lambda: (m := audio_metadata(page)) is not None and m["ready"] >= 1 and m["duration"] > 0,
        "the player to load the sealed audio's metadata",
    )
    assert audio_metadata(page)["error"] is None  # type: ignore[index]

    # Tess warns Sam, with a reason; the report closes and Sam is told.
    page.get_by_label("Action").select_option(label="Warn @sam")
    page.get_by_label("Message to the person (optional)").fill("Keep it civil.")
    expect(page.get_by_label("Reason (required)")).to_have_attribute("required", "")
    page.get_by_label("Reason (required)").fill("Insults in a live room")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status").filter(has_text="Done: Warn @sam.")).to_be_visible()
    expect(page.locator("p.muted").first).to_contain_text("Closed: warned")
    expect(page.locator(".sanctions")).to_contain_text("Insults in a live room")
    shoot(page, "staff-report", full_page=True)

    # The console reads right to left in Arabic.
    page.locator("#language").select_option("ar")
    words = json.loads((CATALOGUES / "ar.json").read_text(encoding="utf-8"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{words['staff.report_number'].replace('{id}', str(report_id))}"
        f" · {words['report.category_harassment']}"
    )
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    shoot(page, "staff-report-ar", full_page=True)
    page.locator("#language").select_option("en")

    # The audit log has it, and filters by action.
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action", exact=True).select_option("report.warn")
    page.get_by_role("button", name="Apply").click()
    entry = page.locator(".audit li").first
    expect(entry).to_contain_text("Warned (report)")
    expect(entry).to_contain_text(f"Report {report_id}")
    expect(entry).to_contain_text("@tess")
    expect(entry).to_contain_text("Insults in a live room")


def test_blocking_from_a_profile_shows_in_blocked_people_until_unblocked(people: Any) -> None:
    ann = people("ann")
    people("ben")
    page = ann.open("/#/u/ben")
    page.get_by_role("button", name="Block", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Block @ben?")
    confirm(page, "Block")
    expect(page.get_by_text("You blocked this person")).to_be_visible()
    expect(page.get_by_role("button", name="Unblock")).to_be_focused()

    page.goto(f"{ann.server.url}/#/settings")
    page.get_by_role("link", name="Blocked people").click()
    expect(page.get_by_role("heading", name="Blocked people")).to_be_visible()
    listed = page.locator('.blocked-list li[data-username="ben"]')
    expect(listed).to_contain_text("@ben")
    shoot(page, "blocked-people")
    listed.get_by_role("button", name="Unblock @ben").click()
    expect(listed).to_have_count(0)
    expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    page.reload()
    expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    page.goto(f"{ann.server.url}/#/u/ben")
    expect(page.get_by_role("button", name="Block", exact=True)).to_be_visible()


def test_the_moderators_guide_speaks_every_language(people: Any) -> None:
    """The guide's title and sections come from each catalogue; Arabic is right to left."""
    cy = people("cyd")
    page = cy.open("/#/help/moderators")
    for lang in ("en", "ru", "ro", "it", "ko", "ar"):
        words = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
        page.locator("#language").select_option(lang)
        expect(page.get_by_role("heading", level=1)).to_have_text(words["guide.title"])
        expect(page.get_by_role("heading", level=2)).to_have_count(8)
        expect(page.get_by_role("heading", name=words["guide.report.title"])).to_be_visible()
        buffer = page.locator("[data-key=guide-buffer]")
        expect(buffer).not_to_have_text("")
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    shoot(page, "guide-ar", full_page=True)
    page.locator("#language").select_option("en")
    expect(page.locator("[data-key=guide-buffer]")).to_contain_text("the last 15 minutes")
