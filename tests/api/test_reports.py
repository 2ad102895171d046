"""S8 reports: filing one about a person or a room, the staff queue and a report's page,
the reporter's anonymity, the outcome told to the reporter, the rate limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.roomkit import cmd, create, join
from townhall.app import Container


async def report(client: Any, **body: Any) -> int:
    r = await client.post("/api/reports", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


async def safety_staff(people: Any, name: str = "tess") -> Any:
    return await people.member(name, staff_role="trust_safety")


async def test_reporting_a_person_in_a_live_room_records_the_room_and_its_snapshot(
    people: Any,
) -> None:
    """A report about someone in a live room names the room and keeps who was on stage,
    muted or not, the title and the audience size at the time."""
    ann, bo, cy = await people.member("ann"), await people.member("bob"), await people.member("cyd")
    room = await create(ann, title="Loud talk")
    await join(bo, room["id"])
    await join(cy, room["id"])
    assert (await cmd(ann, room["id"], "unmute")).status_code == 200
    rid = await report(cy, category="harassment", text="Shouting at people", user="ann")
    tess = await safety_staff(people)
    r = await tess.get(f"/api/admin/reports/{rid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["room"] == room["id"] and body["room_live"] is True
    assert body["room_status"] == "live"
    assert body["user"]["username"] == "ann" and body["reporter"]["username"] == "cyd"
    snap = body["room_snapshot"]
    assert snap["title"] == "Loud talk"
    assert snap["stage"] == [{"username": "ann", "role": "moderator", "muted": False}]
    assert snap["unmuted"] == ["ann"] and snap["listeners"] == 2
    assert body["status"] == "open" and body["earlier_reports"] == [] and body["sanctions"] == []


async def test_reporting_a_room_or_a_person_from_a_profile(people: Any) -> None:
    """A room alone, or a person who is in no room, can be reported; the latter has no room."""
    ann, bo = await people.member("ann"), await people.member("bob")
    room = await create(ann)
    by_room = await report(bo, category="spam_or_scam", room=room["id"])
    await cmd(ann, room["id"], "end")
    by_profile = await report(bo, category="impersonation", user="@ann")
    tess = await safety_staff(people)
    one = (await tess.get(f"/api/admin/reports/{by_room}")).json()
    assert one["room"] == room["id"] and one["user"] is None and one["room_snapshot"]
    assert one["room_status"] == "ended"  # what it is now, for what staff may still do
    two = (await tess.get(f"/api/admin/reports/{by_profile}")).json()
    assert two["room"] is None and two["room_snapshot"] is None and two["room_status"] is None
    assert [e["id"] for e in two["earlier_reports"]] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"category": "rude"}, 400, "invalid_report_category"),
        ({"category": "hate"}, 400, "report_needs_subject"),
        ({"category": "hate", "user": "nobody_here"}, 404, "user_not_found"),
        ({"category": "hate", "room": "nosuchroom"}, 404, "room_not_found"),
        ({"category": "hate", "user": "ann"}, 400, "cannot_report_self"),
        ({"category": "hate", "user": "bob", "text": "x" * 2001}, 422, "invalid_input"),
        ({"category": "hate", "user": "bob", "extra": 1}, 422, "invalid_input"),
    ],
)
async def test_a_bad_report_is_refused_with_a_stable_code(
    people: Any, body: dict[str, Any], status: int, code: str
) -> None:
    """Each mistake in a report has its own code."""
    ann = await people.member("ann")
    await people.member("bob")
    r = await ann.post("/api/reports", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


async def test_waitlisted_people_and_visitors_cannot_report(people: Any, client: Any) -> None:
    """Reports come from members."""
    await people.member("ann")
    wait = await people.sign_in("wait@example.org", username="waiting")
    r = await wait.post("/api/reports", json={"category": "hate", "user": "ann"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    r = await client.post("/api/reports", json={"category": "hate", "user": "ann"})
    assert r.status_code == 401


@pytest.mark.settings(limit_reports_per_user="2/3600")
async def test_reports_are_rate_limited(people: Any) -> None:
    """Past ``limit_reports_per_user`` a person's reports are refused with 429."""
    ann = await people.member("ann")
    await people.member("bob")
    for _ in range(2):
        await report(ann, category="spam_or_scam", user="bob")
    r = await ann.post("/api/reports", json={"category": "spam_or_scam", "user": "bob"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0


async def test_the_queue_filters_counts_and_pages(people: Any) -> None:
    """Staff read the queue newest first, by category, person and status, with counts, a
    page at a time; only staff may."""
    ann, bo, cy = await people.member("ann"), await people.member("bob"), await people.member("cyd")
    ids = [
        await report(ann, category="spam_or_scam", user="bob"),
        await report(cy, category="hate", user="bob"),
        await report(ann, category="hate", user="cyd"),
    ]
    tess = await safety_staff(people)
    r = await tess.get("/api/admin/reports", params={"limit": 2})
    body = r.json()
    assert [i["id"] for i in body["items"]] == [ids[2], ids[1]]
    assert body["counts"] == {
        "by_status": {"open": 3},
        "by_category": {"hate": 2, "spam_or_scam": 1},
    }
    rest = (
        await tess.get("/api/admin/reports", params={"limit": 2, "cursor": body["next_cursor"]})
    ).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    by_bo = (await tess.get("/api/admin/reports", params={"user": "bob"})).json()
    assert [i["id"] for i in by_bo["items"]] == [ids[1], ids[0]]
    hate = (await tess.get("/api/admin/reports", params={"category": "hate"})).json()
    assert [i["id"] for i in hate["items"]] == [ids[2], ids[1]]
    assert hate["counts"]["by_category"] == {"hate": 2, "spam_or_scam": 1}
    closed = (await tess.get("/api/admin/reports", params={"status": "closed"})).json()
    assert closed["items"] == []
    detail = (await tess.get(f"/api/admin/reports/{ids[1]}")).json()
    assert [e["id"] for e in detail["earlier_reports"]] == [ids[0]]
    for who in (ann, bo):
        r = await who.get("/api/admin/reports")
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_staff"


async def test_closing_a_report_tells_the_reporter_only_whether_something_was_done(
    people: Any,
) -> None:
    """Dismissed, the reporter is told "no_action"; acted on, "action_taken"; never what."""
    ann, bo = await people.member("ann"), await people.member("bob")
    first = await report(ann, category="spam_or_scam", user="bob")
    second = await report(ann, category="threats", user="bob")
    tess = await safety_staff(people)
    r = await tess.post(
        f"/api/admin/reports/{first}/actions", json={"action": "dismiss", "reason": "Not spam"}
    )
    assert r.status_code == 200 and r.json()["outcome"] == "dismissed", r.text
    r = await tess.post(
        f"/api/admin/reports/{second}/actions", json={"action": "warn", "reason": "Threat"}
    )
    assert r.status_code == 200 and r.json()["closed_by"] == "tess", r.text
    again = await tess.post(
        f"/api/admin/reports/{second}/actions", json={"action": "dismiss", "reason": "Twice"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "report_closed"
    inbox = (await ann.get("/api/notifications")).json()["items"]
    outcomes = {
        n["data"]["report"]: n["data"]["outcome"] for n in inbox if n["name"] == "report.outcome"
    }
    assert outcomes == {first: "no_action", second: "action_taken"}
    assert all(n["actor"] is None for n in inbox)
    warned = [n for n in (await bo.get("/api/notifications")).json()["items"]]
    assert [n["name"] for n in warned] == ["account.warned"]
    assert warned[0]["actor"] is None


async def test_the_reported_person_never_learns_who_reported_them(
    people: Any, container: Container
) -> None:
    """Nothing the reported person can read (their account, inbox, export, their profile,
    the room's events) names the reporter, even after staff act on the report."""
    bo, secret = await people.member("bob"), await people.member("secret_reporter")
    room = await create(bo, title="Bo's room")
    seq = (await join(secret, room["id"]))["seq"]
    rid = await report(secret, category="harassment", text="by secret_reporter", user="bob")
    tess = await safety_staff(people)
    r = await tess.post(
        f"/api/admin/reports/{rid}/actions",
        json={"action": "warn", "reason": "secret_reporter says so", "message": "Be kind."},
    )
    assert r.status_code == 200, r.text
    after = (await bo.get(f"/api/rooms/{room['id']}/events", params={"after": seq})).json()
    assert after["events"] == []  # the room heard nothing of it
    readable = []
    for path in (
        "/api/me",
        "/api/me/export",
        "/api/notifications",
        "/api/users/bob",
    ):
        r = await bo.get(path)
        assert r.status_code == 200, (path, r.text)
        readable.append(r.text)
    text = "\n".join(readable)
    assert "Be kind." in text  # the warning did reach them
    assert "secret_reporter" not in text
    own = (await secret.get("/api/me/export")).json()
    assert [(x["category"], x["user"]) for x in own["reports_filed"]] == [("harassment", "bob")]
    assert json.loads(text.split("\n")[1])["sanctions"][0]["kind"] == "warn"


async def test_staff_cannot_act_on_their_own_reports_nor_on_themselves(people: Any) -> None:
    """A report a staff member filed is for another to handle; nobody acts on themselves;
    trust and safety do not act on staff."""
    tess, ann = await safety_staff(people), await people.member("ann")
    admin = await people.admin()
    mine = await report(tess, category="spam_or_scam", user="ann")
    r = await tess.post(
        f"/api/admin/reports/{mine}/actions", json={"action": "dismiss", "reason": "x"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "own_report"
    about_tess = await report(ann, category="other", user="tess")
    r = await tess.post(
        f"/api/admin/reports/{about_tess}/actions", json={"action": "warn", "reason": "x"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "cannot_act_on_self"
    r = await tess.post(
        "/api/admin/users/root_admin/actions", json={"action": "ban", "reason": "x"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "target_is_staff"
    r = await admin.post(
        f"/api/admin/reports/{mine}/actions", json={"action": "dismiss", "reason": "ok"}
    )
    assert r.status_code == 200, r.text


async def test_a_report_listener_hears_reports_about_live_rooms(
    people: Any, container: Container
) -> None:
    """The hook for the incident audio: called with (report, room, person) after a report
    about a live room, or someone in one, commits; not for anything else."""
    heard: list[tuple[int, str, int | None]] = []

    async def listener(report_id: int, room_id: str, user_id: int | None) -> None:
        heard.append((report_id, room_id, user_id))

    container.reports.listen(listener)
    ann, bo = await people.member("ann"), await people.member("bob")
    room = await create(ann)
    about_ann = await report(bo, category="hate", user="ann")
    about_room = await report(bo, category="hate", room=room["id"])
    await cmd(ann, room["id"], "end")
    await report(bo, category="hate", user="ann")
    await report(bo, category="hate", room=room["id"])
    me = (await ann.get("/api/me")).json()
    assert me["username"] == "ann"
    ann_id = (await container.accounts.set_staff_role("ann", None)).id
    assert heard == [(about_ann, room["id"], ann_id), (about_room, room["id"], None)]


async def test_actions_need_a_reason_and_a_future_end(people: Any) -> None:
    """A missing reason, an unknown action, a suspension without a future ``until``."""
    await people.member("ann")
    tess = await safety_staff(people)
    for body, code in (
        ({"action": "warn", "reason": "  "}, "reason_required"),
        ({"action": "suspend", "reason": "x"}, "invalid_until"),
        ({"action": "suspend", "reason": "x", "until": "2020-01-01T00:00:00Z"}, "invalid_until"),
        ({"action": "ban", "reason": "x", "until": "2099-01-01T00:00:00Z"}, "invalid_until"),
    ):
        r = await tess.post("/api/admin/users/ann/actions", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (body, r.text)
    r = await tess.post("/api/admin/users/ann/actions", json={"action": "dismiss", "reason": "x"})
    assert r.status_code == 422


async def test_staff_read_a_persons_standing_and_history(people: Any) -> None:
    """``GET /api/admin/users/{username}``: whether they are suspended, banned or verified,
    how the audit log names them, every report about them and their sanctions, newest
    first; only staff may read it, and an unknown name is 404 ``user_not_found``."""
    ann, bo = await people.member("ann"), await people.member("bob")
    first = await report(ann, category="spam_or_scam", user="bob")
    second = await report(ann, category="threats", user="bob", text="He said he would")
    await report(bo, category="hate", user="ann")
    tess = await safety_staff(people)
    r = await tess.post(
        f"/api/admin/reports/{first}/actions",
        json={"action": "warn", "reason": "Spam links", "message": "Stop posting links."},
    )
    assert r.status_code == 200, r.text
    record = (await tess.get("/api/admin/users/@bob")).json()
    assert record["username"] == "bob" and record["status"] == "member"
    assert record["banned"] is False and record["suspended_until"] is None
    assert record["verified"] is False and record["staff_role"] is None
    assert record["audit_target"].startswith("user:")
    assert [(x["id"], x["status"]) for x in record["reports"]] == [
        (second, "open"),
        (first, "closed"),
    ]
    [warned] = record["sanctions"]
    assert warned["kind"] == "warn" and warned["report"] == first
    assert warned["staff"] == "tess" and warned["reason"] == "Spam links"
    log = (await tess.get("/api/admin/audit", params={"target": record["audit_target"]})).json()
    assert log["items"] == []  # a report's action is logged against the report
    await tess.post("/api/admin/users/bob/actions", json={"action": "ban", "reason": "Again"})
    banned = (await tess.get("/api/admin/users/bob")).json()
    assert banned["banned"] is True and [s["kind"] for s in banned["sanctions"]] == ["ban", "warn"]
    log = (await tess.get("/api/admin/audit", params={"target": record["audit_target"]})).json()
    assert [e["action"] for e in log["items"]] == ["user.ban"]
    missing = await tess.get("/api/admin/users/nobody_here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "user_not_found"
    r = await ann.get("/api/admin/users/bob")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_staff"


@pytest.mark.settings(incident_buffer_seconds=600, incident_audio_retention_days=14)
async def test_anyone_signed_in_reads_the_safety_policy(people: Any, client: Any) -> None:
    """``GET /api/safety`` gives the report categories and what a live room's audio is kept
    for reports, from the operator's settings: what the room's notice says."""
    wait = await people.sign_in("wait@example.org", username="waiting")
    r = await wait.get("/api/safety")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "report_categories": [
            "harassment",
            "hate",
            "threats",
            "sexual_content",
            "spam_or_scam",
            "impersonation",
            "self_harm",
            "illegal",
            "other",
        ],
        "incident_audio": {"buffer_seconds": 600, "retention_days": 14},
    }
    assert (await client.get("/api/safety")).status_code == 401
