"""S8 staff actions that take effect everywhere: suspensions and bans on HTTP, on open
sockets and in rooms; a suspension that ends by itself; ending rooms, removing people,
the verified badge, the staff roles and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.roomkit import cmd, create, join
from tests.api.test_reports import report, safety_staff
from tests.api.test_ws import (  # noqa: F401 (fixtures)
    base,
    close_code,
    open_socket,
)
from tests.conftest import FakeClock


async def act(staff: Any, username: str, **body: Any) -> dict[str, Any]:
    r = await staff.post(f"/api/admin/users/{username}/actions", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def members(client: Any, room_id: str) -> set[str]:
    snap = (await client.get(f"/api/rooms/{room_id}")).json()
    return {m["username"] for m in snap["stage"] + snap["audience"]}


async def test_a_suspension_closes_sockets_refuses_rooms_and_ends_by_itself(
    people: Any,
    clock: FakeClock,
    open_socket: Any,  # noqa: F811
) -> None:
    """Suspended, a person's open socket closes with 4401, they are out of the room they
    were in, HTTP answers 403 ``suspended`` with its end, they cannot start or join rooms,
    a new socket is refused; once the time passes they can again, with no job run."""
    ann, bob = await people.member("ann"), await people.member("bob")
    room = await create(ann)
    await join(bob, room["id"])
    s = await open_socket(bob)
    await s.ok("unsubscribe", room="nothing")
    tess = await safety_staff(people)
    until = clock.now() + timedelta(days=2)
    done = await act(tess, "bob", action="suspend", reason="Threats", until=until.isoformat())
    assert done["suspended_until"] is not None and done["banned"] is False
    assert await close_code(s.ws) == 4401
    assert "bob" not in await members(ann, room["id"])
    for method, path in (
        ("POST", "/api/rooms"),
        ("POST", f"/api/rooms/{room['id']}/join"),
        ("GET", "/api/hallway"),
    ):
        r = await bob.request(method, path, json={"title": "Mine"} if method == "POST" else None)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "suspended"
        assert r.json()["error"]["until"] == until.isoformat()
    me = await bob.get("/api/me")
    assert me.status_code == 200 and me.json()["suspended_until"] is not None
    again = await open_socket(bob)
    assert await close_code(again.ws) == 4401
    clock.advance(days=2, seconds=1)
    r = await bob.post(f"/api/rooms/{room['id']}/join")
    assert r.status_code == 200, r.text
    assert (await bob.post("/api/rooms", json={"title": "Back"})).status_code == 201
    back = await open_socket(bob)
    await back.ok("unsubscribe", room="nothing")


async def test_a_ban_holds_until_staff_reinstate(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Banned, every route but the person's own account answers 403 ``banned``; reinstated,
    they are back."""
    await people.member("ann")
    bob = await people.member("bob")
    s = await open_socket(bob)
    await s.ok("unsubscribe", room="nothing")
    tess = await safety_staff(people)
    assert (await act(tess, "bob", action="ban", reason="Spam ring"))["banned"] is True
    assert await close_code(s.ws) == 4401
    r = await bob.get("/api/users/ann")
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned"
    assert (await bob.get("/api/me")).json()["banned"] is True
    assert (await bob.get("/api/me/export")).status_code == 200
    assert (await act(tess, "bob", action="reinstate", reason="Appeal granted"))["banned"] is False
    assert (await bob.get("/api/users/ann")).status_code == 200


async def test_a_suspended_speaker_cannot_be_brought_back_on_stage(
    people: Any, clock: FakeClock
) -> None:
    """Suspended, a speaker leaves the stage and the room; staff's history lists it."""
    ann, bob = await people.member("ann"), await people.member("bob")
    room = await create(ann)
    await join(bob, room["id"])
    assert (await cmd(ann, room["id"], "invite_to_speak", target="bob")).status_code == 200
    assert (await cmd(bob, room["id"], "accept_speak")).status_code == 200
    rid = await report(ann, category="hate", user="bob")
    tess = await safety_staff(people)
    until = (clock.now() + timedelta(hours=1)).isoformat()
    r = await tess.post(
        f"/api/admin/reports/{rid}/actions",
        json={"action": "suspend", "reason": "Slurs on stage", "until": until},
    )
    assert r.status_code == 200, r.text
    assert [s["kind"] for s in r.json()["sanctions"]] == ["suspend"]
    assert "bob" not in await members(ann, room["id"])
    r = await cmd(ann, room["id"], "invite_to_speak", target="bob")
    assert r.status_code in (403, 404, 409), r.text


async def test_staff_end_a_room_and_remove_someone(people: Any) -> None:
    """Staff end any room, or take one person out of it for good; both are in the log."""
    ann, bob = await people.member("ann"), await people.member("bob")
    tess = await safety_staff(people)
    room = await create(ann)
    await join(bob, room["id"])
    r = await tess.post(
        f"/api/admin/rooms/{room['id']}/remove", json={"user": "bob", "reason": "Trolling"}
    )
    assert r.status_code == 200, r.text
    assert "bob" not in await members(ann, room["id"])
    r = await bob.post(f"/api/rooms/{room['id']}/join")
    assert r.status_code == 403 and r.json()["error"]["code"] == "removed_from_room"
    r = await tess.post(
        f"/api/admin/rooms/{room['id']}/remove", json={"user": "bob", "reason": "Again"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "person_not_in_room"
    r = await tess.post(f"/api/admin/rooms/{room['id']}/end", json={"reason": "Raid"})
    assert r.status_code == 200, r.text
    assert (await ann.get(f"/api/rooms/{room['id']}")).json()["status"] == "ended"
    r = await tess.post(f"/api/admin/rooms/{room['id']}/end", json={"reason": "Raid"})
    assert r.status_code == 410
    log = (await tess.get("/api/admin/audit", params={"target": f"room:{room['id']}"})).json()
    assert [(e["action"], e["data"]["reason"]) for e in log["items"]] == [
        ("room.end", "Raid"),
        ("room.remove", "Trolling"),
    ]


async def test_the_verified_badge_shows_on_profiles_and_in_rooms(people: Any) -> None:
    """Staff mark a notable account; its profile and its place in a room show it."""
    ann, bob = await people.member("ann"), await people.member("bob")
    tess = await safety_staff(people)
    r = await tess.put("/api/admin/users/ann/verified", json={"reason": "The mayor"})
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    assert (await bob.get("/api/users/ann")).json()["verified"] is True
    room = await create(ann)
    snap = await join(bob, room["id"])
    assert [(m["username"], m["verified"]) for m in snap["stage"]] == [("ann", True)]
    r = await tess.request(
        "DELETE", "/api/admin/users/ann/verified", json={"reason": "Left office"}
    )
    assert r.json()["verified"] is False
    assert (await bob.get("/api/users/ann")).json()["verified"] is False


async def test_trust_and_safety_staff_do_not_run_the_instance(people: Any) -> None:
    """Trust and safety use the queue, the actions and the audit log; the waitlist and
    invite grants stay with administrators."""
    await people.member("ann")
    tess = await safety_staff(people)
    assert (await tess.get("/api/admin/reports")).status_code == 200
    assert (await tess.get("/api/admin/audit")).status_code == 200
    r = await tess.post("/api/admin/users/ann/invite-tree/cancel", json={})
    assert r.status_code == 200, r.text
    for method, path, body in (
        ("GET", "/api/admin/waitlist", None),
        ("POST", "/api/admin/users/ann/invites", {"count": 1}),
    ):
        r = await tess.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_staff", path


async def test_the_audit_log_records_who_what_why_and_filters(people: Any) -> None:
    """Every action is in the log with the staff member, the action, the target and the
    reason; the log filters by each."""
    ann = await people.member("ann")
    await people.member("bob")
    tess, admin = await safety_staff(people), await people.admin()
    rid = await report(ann, category="spam_or_scam", user="bob")
    await tess.post(f"/api/admin/reports/{rid}/actions", json={"action": "warn", "reason": "Ads"})
    await act(admin, "ann", action="warn", reason="Brigading")
    by_tess = (await admin.get("/api/admin/audit", params={"actor": "tess"})).json()["items"]
    assert [(e["action"], e["target"], e["data"]["reason"]) for e in by_tess] == [
        ("report.warn", f"report:{rid}", "Ads")
    ]
    warns = (await admin.get("/api/admin/audit", params={"action": "user.warn"})).json()
    assert [e["actor"] for e in warns["items"]] == ["root_admin"]
    me = (await ann.get("/api/me")).json()
    assert me["username"] == "ann"
