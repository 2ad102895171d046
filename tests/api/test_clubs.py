"""S7 clubs over HTTP: founding, limits, policies, invitations, nominations, roles, lists."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.clubkit import Heard, club, code, found, give_role, join, user_id
from tests.api.roomkit import create


async def test_founding_needs_hosted_rooms_and_a_free_name(people: Any) -> None:
    """Founding needs 3 hosted rooms; refused before, with nothing created; names are unique."""
    ada = await people.member("ada")
    for _ in range(2):
        await create(ada)
    r = await ada.post("/api/clubs", json={"name": "Jazz Lovers"})
    assert r.status_code == 403 and code(r) == "club_needs_hosted_rooms"
    assert (await ada.get("/api/clubs/mine")).json()["items"] == []
    await create(ada)
    made = await found(ada, description="Late-night jazz", rules=["Be kind", "  "])
    assert made["my_role"] == "founder" and made["founder"]["username"] == "ada"
    assert made["rules"] == ["Be kind"] and made["members"] == 1 and made["policy"] == "open"
    r = await ada.post("/api/clubs", json={"name": "jazz  LOVERS"})
    assert r.status_code == 409 and code(r) == "club_name_taken"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "x" * 51}, "club_name_too_long"),
        ({"name": "ab"}, "club_name_too_short"),
        ({"name": "Fine", "description": "d" * 301}, "club_description_too_long"),
        ({"name": "Fine", "rules": ["r"] * 10 + ["s"]}, "invalid_input"),
        ({"name": "Fine", "rules": ["r" * 201]}, "club_rule_too_long"),
        ({"name": "Fine", "policy": "secret"}, "invalid_input"),
    ],
)
async def test_bad_club_input_is_refused_and_changes_nothing(
    people: Any, body: dict[str, Any], error: str
) -> None:
    """Names, descriptions and rules over the limits get a clear code; no club appears."""
    ada = await people.member("ada")
    r = await ada.post("/api/clubs", json=body)
    assert r.status_code in (400, 422) and code(r) == error
    assert (await ada.get("/api/clubs/mine")).json()["items"] == []


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_edit_keeps_limits_and_unchanged_fields(people: Any, client: Any) -> None:
    """The founder edits; a refused edit leaves the club as it was; the public page shows
    the club escaped and is not indexed."""
    ada = await people.member("ada")
    c = await found(ada, description="Old")
    r = await ada.patch(f"/api/clubs/{c['id']}", json={"description": "d" * 301})
    assert code(r) == "club_description_too_long"
    r = await ada.patch(f"/api/clubs/{c['id']}", json={"name": "Jazz Friends", "rules": ["A"]})
    assert r.status_code == 200
    after = await club(ada, c["id"])
    assert (after["name"], after["description"], after["rules"]) == ("Jazz Friends", "Old", ["A"])
    await ada.patch(f"/api/clubs/{c['id']}", json={"rules": ["<script>x</script>"]})
    page = await client.get(f"/c/{c['id']}")
    assert page.status_code == 200 and page.headers["x-robots-tag"] == "noindex"
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script>x" not in page.text
    assert "Jazz Friends" in page.text and "1 member · 0 followers" in page.text
    assert (await client.get("/c/999")).status_code == 404


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_approval_policy_apply_then_approve_or_reject(people: Any, container: Any) -> None:
    """By approval: people apply, the founder and admins are told, approval makes a member."""
    heard = Heard(container)
    ada = await people.member("ada")
    bob = await people.member("bob")
    cy = await people.member("cyd")
    c = await found(ada, policy="approval")
    applied = await join(bob, c["id"])
    assert applied["my_role"] is None and applied["my_request"] == "applied"
    assert heard.of("club.applied")[0].recipients.users == (await user_id(container, "ada"),)
    await join(cy, c["id"])
    r = await bob.post(f"/api/clubs/{c['id']}/requests/cyd/approve")
    assert r.status_code == 403 and code(r) == "club_role_not_allowed"
    pending = (await ada.get(f"/api/clubs/{c['id']}/requests")).json()["items"]
    assert [(p["username"], p["kind"]) for p in pending] == [("bob", "applied"), ("cyd", "applied")]
    assert (await ada.post(f"/api/clubs/{c['id']}/requests/bob/approve")).status_code == 200
    assert (await ada.post(f"/api/clubs/{c['id']}/requests/cyd/reject")).status_code == 200
    assert (await club(bob, c["id"]))["my_role"] == "member"
    cy_view = await club(cy, c["id"])
    assert cy_view["my_role"] is None and cy_view["my_request"] is None
    approved = heard.of("club.approved")
    assert [h.recipients.users for h in approved] == [(await user_id(container, "bob"),)]
    assert approved[0].data["club_id"] == c["id"] and approved[0].data["club_name"] == c["name"]


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_invitation_policy_nominations_and_invitations(people: Any, container: Any) -> None:
    """By invitation: nobody joins alone; a member's nomination goes to the admins, an
    admin's invitation to the person, who accepts by joining or declines."""
    heard = Heard(container)
    ada = await people.member("ada")
    bob = await people.member("bob")
    cy = await people.member("cyd")
    dee = await people.member("dee")
    c = await found(ada, policy="invitation")
    r = await bob.post(f"/api/clubs/{c['id']}/join")
    assert r.status_code == 403 and code(r) == "club_invitation_only"
    assert (
        await ada.post(f"/api/clubs/{c['id']}/invitations", json={"username": "bob"})
    ).is_success
    invited = heard.of("club.invited")
    assert invited[0].recipients.users == (await user_id(container, "bob"),)
    assert (await club(bob, c["id"]))["my_request"] == "invited"
    assert (await join(bob, c["id"]))["my_role"] == "member"
    # A member nominates; the founder (and admins) hear of it and decide.
    r = await bob.post(f"/api/clubs/{c['id']}/nominations", json={"username": "@cyd"})
    assert r.status_code == 200
    nominated = heard.of("club.nominated")
    assert nominated[0].recipients.users == (await user_id(container, "ada"),)
    assert nominated[0].data["username"] == "cyd"
    assert (await ada.post(f"/api/clubs/{c['id']}/requests/cyd/approve")).status_code == 200
    assert (await club(cy, c["id"]))["my_role"] == "member"
    # An invitation can be declined.
    await ada.post(f"/api/clubs/{c['id']}/invitations", json={"username": "dee"})
    r = await dee.delete(f"/api/clubs/{c['id']}/request")
    assert r.status_code == 200 and r.json()["my_request"] is None
    r = await ada.post(f"/api/clubs/{c['id']}/invitations", json={"username": "bob"})
    assert r.status_code == 409 and code(r) == "already_club_member"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_roles_removal_and_the_founder_stays(people: Any) -> None:
    """Admins change roles and remove members; nobody touches the founder, who cannot leave."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cy = await people.member("cyd")
    c = await found(ada)
    await give_role(ada, bob, c["id"], "bob", "admin")
    await give_role(ada, cy, c["id"], "cyd", "member")
    r = await bob.delete(f"/api/clubs/{c['id']}/members/ada")
    assert r.status_code == 403 and code(r) == "cannot_change_founder"
    r = await bob.patch(f"/api/clubs/{c['id']}/members/cyd", json={"role": "founder"})
    assert r.status_code == 422
    assert (
        await bob.patch(f"/api/clubs/{c['id']}/members/cyd", json={"role": "leader"})
    ).is_success
    assert (await club(cy, c["id"]))["my_role"] == "leader"
    assert (await bob.delete(f"/api/clubs/{c['id']}/members/cyd")).is_success
    assert (await club(cy, c["id"]))["my_role"] is None
    r = await ada.post(f"/api/clubs/{c['id']}/leave")
    assert r.status_code == 409 and code(r) == "founder_cannot_leave"
    assert (await club(ada, c["id"]))["my_role"] == "founder"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_follow_members_list_my_clubs_and_search(people: Any) -> None:
    """Following, the paged member list, "my clubs" and search by word prefix."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cy = await people.member("cyd")
    jazz = await found(ada, "Jazz Lovers", description="Bebop, swing, chess at the break")
    chess = await found(ada, "Chess Corner", description="Openings")
    await join(bob, jazz["id"])
    r = await cy.put(f"/api/clubs/{jazz['id']}/follow")
    assert r.json()["my_role"] == "follower" and r.json()["followers"] == 1
    r = await bob.delete(f"/api/clubs/{jazz['id']}/follow")
    assert r.status_code == 409 and code(r) == "leave_club_instead"
    first = (await cy.get(f"/api/clubs/{jazz['id']}/members", params={"limit": 1})).json()
    second = (
        await cy.get(
            f"/api/clubs/{jazz['id']}/members", params={"limit": 1, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [m["username"] for m in first["items"] + second["items"]] == ["ada", "bob"]
    assert second["next_cursor"] is None
    followers = (await cy.get(f"/api/clubs/{jazz['id']}/members?followers=true")).json()
    assert [(m["username"], m["role"]) for m in followers["items"]] == [("cyd", "follower")]
    assert (await cy.get("/api/clubs/mine")).json()["items"] == []
    mine = (await cy.get("/api/clubs/mine?following=true")).json()["items"]
    assert [(m["name"], m["my_role"]) for m in mine] == [("Jazz Lovers", "follower")]
    assert (await cy.delete(f"/api/clubs/{jazz['id']}/follow")).json()["my_role"] is None
    found_ = (await cy.get("/api/clubs/search", params={"q": "beb"})).json()["items"]
    assert [c["id"] for c in found_] == [jazz["id"]]
    found_ = (await cy.get("/api/clubs/search", params={"q": "corner"})).json()["items"]
    assert [c["id"] for c in found_] == [chess["id"]]
    # A match in the name ranks above one in the description.
    found_ = (await cy.get("/api/clubs/search", params={"q": "Chess"})).json()["items"]
    assert [c["id"] for c in found_] == [chess["id"], jazz["id"]]
