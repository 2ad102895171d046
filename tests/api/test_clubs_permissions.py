"""The club permission table, role by role, through the HTTP API; club rooms and the icon."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.api.clubkit import club, code, found, give_role
from tests.api.roomkit import create
from townhall.domain.clubs.rules import PERMISSIONS

ROLES = ["founder", "admin", "leader", "member", "follower", "visitor"]
EVENT = {"name": "Bebop night", "starts_at": "2026-03-10T20:00", "time_zone": "Europe/Paris"}


def refused(r: httpx.Response, allowed: bool) -> bool:
    """Did the answer refuse the action as the table says it should?"""
    if allowed:
        assert r.is_success, r.text
        return False
    assert r.status_code == 403, r.text
    assert code(r) in ("club_role_not_allowed", "club_members_only"), r.text
    return True


@pytest.mark.settings(club_found_min_rooms_hosted=0)
@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_do_exactly_what_the_table_says(people: Any, role: str) -> None:
    """Every action of the table is tried by someone in ``role``; refusals change nothing."""
    ada = await people.member("ada")
    actor = ada if role == "founder" else await people.member("actor")
    await people.member("newbie")
    c = await found(ada)
    cid = c["id"]
    if role != "founder":
        await give_role(ada, actor, cid, "actor", role)
    allowed = PERMISSIONS[role]

    r = await actor.patch(f"/api/clubs/{cid}", json={"description": "Changed"})
    if refused(r, "edit" in allowed):
        assert (await club(ada, cid))["description"] == ""

    r = await actor.post(f"/api/clubs/{cid}/invitations", json={"username": "newbie"})
    if refused(r, "manage_members" in allowed):
        assert (await ada.get(f"/api/clubs/{cid}/requests")).json()["items"] == []

    r = await actor.post("/api/rooms", json={"title": "Club talk", "club": cid})
    if refused(r, "start_room" in allowed):
        assert (await ada.get("/api/rooms")).json()["items"] == []
    else:
        assert r.json()["club_id"] == cid and r.json()["members_only"] is False

    r = await actor.post("/api/events", json={**EVENT, "club": cid})
    if refused(r, "schedule_event" in allowed):
        assert (await actor.get("/api/events/mine")).json()["items"] == []

    r = await actor.post(f"/api/clubs/{cid}/nominations", json={"username": "newbie"})
    refused(r, "nominate" in allowed)

    private = await create(ada, title="Members only", club=cid, members_only=True)
    listed = [room["id"] for room in (await actor.get("/api/rooms")).json()["items"]]
    r = await actor.post(f"/api/rooms/{private['id']}/join")
    assert refused(r, "members_only" in allowed) == (private["id"] not in listed)

    r = await actor.post(f"/api/clubs/{cid}/leave")
    if "leave" in allowed:
        assert r.status_code == 200 and r.json()["my_role"] is None
    else:
        assert r.status_code == 409 and code(r) in ("founder_cannot_leave", "not_club_member")
        assert (await club(actor, cid))["my_role"] == (None if role == "visitor" else role)


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_only_the_founder_sets_the_icon(people: Any) -> None:
    """The founder uploads an icon, stored as an avatar is; an admin is refused."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    c = await found(ada)
    await give_role(ada, bob, c["id"], "bob", "admin")
    files = {"file": ("icon.png", png(), "image/png")}
    r = await bob.put(f"/api/clubs/{c['id']}/icon", files=files)
    assert r.status_code == 403 and (await club(ada, c["id"]))["icon_url"] is None
    r = await ada.put(f"/api/clubs/{c['id']}/icon", files=files)
    assert r.status_code == 200, r.text
    icon = await ada.get(r.json()["icon_url"])
    assert icon.status_code == 200 and icon.content[8:12] == b"WEBP"


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_members_only_needs_a_club_and_unknown_clubs_are_refused(people: Any) -> None:
    """A members-only room needs a club; a room in a missing club is refused."""
    ada = await people.member("ada")
    r = await ada.post("/api/rooms", json={"members_only": True})
    assert r.status_code == 400 and code(r) == "members_only_needs_club"
    r = await ada.post("/api/rooms", json={"club": 999})
    assert r.status_code == 404 and code(r) == "club_not_found"
    assert (await ada.get("/api/rooms")).json()["items"] == []
