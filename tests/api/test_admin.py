"""S2.4 operator tools over HTTP: the waitlist, approvals, invite grants and cancellations,
invite trees, and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import FakeClock
from townhall.security import email_hash


async def waiting(people: Any, name: str) -> Any:
    """Someone who signed in without an invite."""
    return await people.sign_in(f"{name}@example.org", username=name)


async def invited(people: Any, inviter: Any, name: str) -> Any:
    """Someone who joined through ``inviter``'s link."""
    r = await inviter.post("/api/invites", json={})
    assert r.status_code == 201, r.text
    token = r.json()["link"].rsplit("/invite/", 1)[1]
    return await people.sign_in(f"{name}@example.org", username=name, invite=token)


async def status(client: Any) -> tuple[str, int]:
    me = (await client.get("/api/me")).json()
    return me["status"], me["invites_left"]


async def audit(admin: Any, **params: Any) -> list[dict[str, Any]]:
    r = await admin.get("/api/admin/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


ROUTES = [
    ("GET", "/api/admin/waitlist", None),
    ("POST", "/api/admin/waitlist/approve", {"usernames": ["bob"]}),
    ("POST", "/api/admin/users/bob/invites", {"count": 1}),
    ("DELETE", "/api/admin/invites/1", None),
    ("POST", "/api/admin/users/bob/invite-tree/cancel", {"demote": True}),
    ("GET", "/api/admin/audit", None),
]
SHARED_WITH_TRUST_AND_SAFETY = {"/api/admin/users/bob/invite-tree/cancel", "/api/admin/audit"}
"""Routes trust and safety staff may use too (docs/safety.md)."""


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_operator_routes_are_for_admins_only(
    people: Any, client: Any, method: str, path: str, body: Any
) -> None:
    """Members, trust & safety staff (but for the routes shared with them) and waitlisted
    people get 403 not_staff; visitors 401."""
    member = await people.member("alice")
    trust = await people.member("tess", staff_role="trust_safety")
    wendy = await waiting(people, "wendy")
    refused = [member, wendy] if path in SHARED_WITH_TRUST_AND_SAFETY else [member, trust, wendy]
    for someone in refused:
        r = await someone.request(method, path, json=body)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "not_staff"
    r = await client.request(method, path, json=body)
    assert r.status_code == 401


async def test_waitlist_lists_the_longest_waiting_first_in_pages(people: Any) -> None:
    """The queue is oldest first, paginated by cursor; the last page has none."""
    admin = await people.admin()
    for name in ("zoe", "bob", "carl"):
        await waiting(people, name)
    await people.member("alice")
    first = (await admin.get("/api/admin/waitlist", params={"limit": 2})).json()
    assert [u["username"] for u in first["items"]] == ["zoe", "bob"]
    assert first["items"][0]["sent_back"] is False
    assert first["items"][0]["signed_up_at"] < first["items"][1]["signed_up_at"]
    rest = (
        await admin.get("/api/admin/waitlist", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [u["username"] for u in rest["items"]] == ["carl"]
    assert rest["next_cursor"] is None
    bad = await admin.get("/api/admin/waitlist", params={"cursor": "e30"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_cursor"


async def test_approve_one_or_many_reports_the_rest(people: Any) -> None:
    """Approval lets the waitlisted in with their invites; members and unknown names are
    reported, not fatal; each approval is audited."""
    admin = await people.admin()
    bob = await waiting(people, "bob")
    carl = await waiting(people, "carl")
    await people.member("alice")
    r = await admin.post(
        "/api/admin/waitlist/approve", json={"usernames": ["@Bob", "carl", "alice", "ghost", "bob"]}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "approved": ["bob", "carl"],
        "already_members": ["alice"],
        "unknown": ["ghost"],
    }
    assert await status(bob) == ("member", 2)
    assert await status(carl) == ("member", 2)
    assert (await admin.get("/api/admin/waitlist")).json()["items"] == []
    entries = await audit(admin)
    assert sorted((e["actor"], e["action"], e["data"]["username"]) for e in entries) == [
        ("root_admin", "waitlist.approve", "bob"),
        ("root_admin", "waitlist.approve", "carl"),
    ]
    assert all(re.fullmatch(r"user:\d+", e["target"]) for e in entries)


@pytest.mark.parametrize(
    "body", [{"usernames": []}, {"usernames": ["x"] * 501}, {"usernames": ["x" * 65]}, {}]
)
async def test_approve_needs_one_to_five_hundred_names(people: Any, body: Any) -> None:
    """An empty list, more than 500 names or an overlong name is 422 invalid_input."""
    admin = await people.admin()
    r = await admin.post("/api/admin/waitlist/approve", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


async def test_approving_five_hundred_at_once(people: Any, container: Any) -> None:
    """A full bulk approval of 500 waiting people goes through in one request."""
    admin = await people.admin()
    names = [f"user{i:03d}" for i in range(500)]
    for name in names:
        await container.accounts.create_account(f"{name}@example.org", name, member=False)
    r = await admin.post("/api/admin/waitlist/approve", json={"usernames": names})
    assert r.status_code == 200, r.text
    assert r.json()["approved"] == names
    assert (await admin.get("/api/admin/waitlist")).json()["items"] == []


async def test_grant_invites_to_a_member(people: Any) -> None:
    """A grant adds to the member's invites and is audited with the count."""
    admin = await people.admin()
    alice = await people.member("alice")
    r = await admin.post("/api/admin/users/alice/invites", json={"count": 3})
    assert r.status_code == 200
    assert r.json() == {"username": "alice", "invites_left": 5}
    assert await status(alice) == ("member", 5)
    [entry] = await audit(admin)
    assert entry["action"] == "invites.grant"
    assert entry["target"].startswith("user:")
    assert entry["data"] == {"username": "alice", "count": 3, "invites_left": 5}


@pytest.mark.settings(invites_max_grant=5)
async def test_grants_are_bounded(people: Any) -> None:
    """Grants outside 1..invites_max_grant, to unknown or waitlisted people, are refused."""
    admin = await people.admin()
    await people.member("alice")
    await waiting(people, "wendy")
    cases = [
        ("alice", {"count": 6}, 400, "invalid_count"),
        ("alice", {"count": 0}, 422, "invalid_input"),
        ("alice", {"count": 10**30}, 422, "invalid_input"),
        ("ghost", {"count": 1}, 404, "user_not_found"),
        ("wendy", {"count": 1}, 409, "not_a_member"),
    ]
    for name, body, code, error in cases:
        r = await admin.post(f"/api/admin/users/{name}/invites", json=body)
        assert r.status_code == code, r.text
        assert r.json()["error"]["code"] == error
    assert await audit(admin) == []


async def test_cancel_any_unused_invite_without_refund(people: Any, client: Any) -> None:
    """An operator cancels someone's pending invite: the link dies and no invite returns."""
    admin = await people.admin()
    alice = await people.member("alice")
    sent = (await alice.post("/api/invites", json={})).json()
    r = await admin.delete(f"/api/admin/invites/{sent['id']}")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert await status(alice) == ("member", 1)
    token = sent["link"].rsplit("/invite/", 1)[1]
    assert (await client.get(f"/api/invites/link/{token}")).status_code == 410
    again = await admin.delete(f"/api/admin/invites/{sent['id']}")
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "invite_cancelled"
    [entry] = await audit(admin)
    assert (entry["action"], entry["target"]) == ("invite.cancel", f"invite:{sent['id']}")
    assert entry["data"]["inviter_username"] == "alice"


async def test_cancelling_used_or_unknown_invites(people: Any) -> None:
    """A used invite is 409 invite_used, an unknown one 404, a huge id 422."""
    admin = await people.admin()
    alice = await people.member("alice")
    await invited(people, alice, "bob")
    used = (await alice.get("/api/invites")).json()["invites"][0]
    r = await admin.delete(f"/api/admin/invites/{used['id']}")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invite_used"
    r = await admin.delete("/api/admin/invites/999999")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "invite_not_found"
    r = await admin.delete(f"/api/admin/invites/{2**64}")
    assert r.status_code == 422


async def build_tree(people: Any) -> dict[str, Any]:
    """alice ─ bob ─ carl ─ dora, and bob let erin in; everyone keeps a pending invite;
    zed is outside the tree with a pending invite of his own."""
    c: dict[str, Any] = {"alice": await people.member("alice")}
    c["bob"] = await invited(people, c["alice"], "bob")
    c["carl"] = await invited(people, c["bob"], "carl")
    c["dora"] = await invited(people, c["carl"], "dora")
    c["erin"] = await waiting(people, "erin")
    r = await c["bob"].put("/api/me/contacts", json={"hashes": [email_hash("erin@example.org")]})
    assert r.status_code == 200
    assert (await c["bob"].post("/api/waitlist/erin/let-in")).status_code == 200
    c["zed"] = await people.member("zed")
    for name in ("alice", "bob", "carl", "zed"):
        assert (await c[name].post("/api/invites", json={})).status_code == 201
    return c


async def test_cancel_invite_tree_stops_every_pending_invite_below(people: Any) -> None:
    """The root's and everyone below's pending invites die and all their quotas drop to
    zero; no one is demoted without asking; people outside the tree are untouched."""
    admin = await people.admin()
    c = await build_tree(people)
    r = await admin.post("/api/admin/users/alice/invite-tree/cancel")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "username": "alice",
        "cancelled_invites": 3,
        "people_below": 4,
        "demoted": [],
    }
    for name in ("alice", "bob", "carl", "dora", "erin"):
        assert await status(c[name]) == ("member", 0), name
        listed = (await c[name].get("/api/invites")).json()["invites"]
        assert all(i["status"] != "pending" for i in listed)
    assert await status(c["zed"]) == ("member", 1)
    assert [i["status"] for i in (await c["zed"].get("/api/invites")).json()["invites"]] == [
        "pending"
    ]
    [entry] = await audit(admin)
    assert entry["action"] == "invite_tree.cancel"
    assert entry["data"]["username"] == "alice"
    assert entry["data"]["cancelled_invites"] == 3


async def test_cancel_invite_tree_can_send_the_people_below_to_the_waitlist(
    people: Any,
) -> None:
    """With demote, everyone who joined below the root (never the root, never staff) goes
    back to the waitlist as if they had never joined, marked as sent back; each demotion is
    audited, and approving one later makes a fresh member without a nominator."""
    admin = await people.admin()
    c = await build_tree(people)
    await admin.post("/api/admin/users/alice/invites", json={"count": 1})
    r = await admin.post("/api/admin/users/alice/invite-tree/cancel", json={"demote": True})
    assert r.status_code == 200, r.text
    assert r.json()["demoted"] == ["bob", "carl", "dora", "erin"]
    assert await status(c["alice"]) == ("member", 0)
    for name in ("bob", "carl", "dora", "erin"):
        assert await status(c[name]) == ("waitlisted", 0), name
    assert (await c["bob"].post("/api/invites", json={})).json()["error"]["code"] == (
        "not_a_member"
    )
    queue = (await admin.get("/api/admin/waitlist")).json()["items"]
    assert {u["username"]: u["sent_back"] for u in queue} == {
        "bob": True,
        "carl": True,
        "dora": True,
        "erin": True,
    }
    profile = (await c["dora"].get("/api/users/dora")).json()
    assert (profile["status"], profile["joined_at"], profile["nominated_by"]) == (
        "waitlisted",
        None,
        None,
    )
    entries = await audit(admin)
    assert sorted(e["data"]["username"] for e in entries if e["action"] == "user.demote") == [
        "bob",
        "carl",
        "dora",
        "erin",
    ]
    [tree] = [e for e in entries if e["action"] == "invite_tree.cancel"]
    assert tree["data"]["demote"] is True
    assert tree["data"]["demoted"] == ["bob", "carl", "dora", "erin"]

    r = await admin.post("/api/admin/waitlist/approve", json={"usernames": ["carl"]})
    assert r.json()["approved"] == ["carl"]
    assert await status(c["carl"]) == ("member", 2)
    assert (await c["carl"].get("/api/users/carl")).json()["nominated_by"] is None


async def test_staff_below_the_root_are_not_demoted(people: Any) -> None:
    """An administrator who joined through the tree keeps their membership."""
    admin = await people.admin()
    alice = await people.member("alice")
    bob = await invited(people, alice, "bob")
    await people.container.accounts.set_staff_role("bob", "admin")
    r = await admin.post("/api/admin/users/alice/invite-tree/cancel", json={"demote": True})
    assert r.json()["demoted"] == []
    assert (await status(bob))[0] == "member"


async def test_cancel_invite_tree_of_an_unknown_person(people: Any) -> None:
    """An unknown root is 404 user_not_found and nothing is audited."""
    admin = await people.admin()
    r = await admin.post("/api/admin/users/ghost/invite-tree/cancel", json={})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "user_not_found"
    assert await audit(admin) == []


async def test_audit_log_is_newest_first_and_paginated(people: Any, clock: FakeClock) -> None:
    """Entries come newest first with actor, action and time; pages end with a null cursor."""
    admin = await people.admin()
    await people.member("alice")
    for count in (1, 2, 3):
        clock.advance(minutes=1)
        await admin.post("/api/admin/users/alice/invites", json={"count": count})
    first = (await admin.get("/api/admin/audit", params={"limit": 2})).json()
    assert [e["data"]["count"] for e in first["items"]] == [3, 2]
    assert first["items"][0]["actor"] == "root_admin"
    assert first["items"][0]["created_at"] > first["items"][1]["created_at"]
    rest = (
        await admin.get("/api/admin/audit", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [e["data"]["count"] for e in rest["items"]] == [1]
    assert rest["next_cursor"] is None
    r = await admin.get("/api/admin/audit", params={"cursor": "WyJ4Il0"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_cursor"
