"""The first-day story of a new instance, through the public HTTP API."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Mailbox, code_in


async def test_admin_invites_a_friend_who_joins_nominated(
    container: Any, make_client: Any, mailbox: Mailbox
) -> None:
    """Bootstrap an admin, sign in by link, invite a friend by email; the friend joins
    through the mailed link and their profile shows who nominated them."""
    await container.accounts.create_account("ada@example.org", "ada", staff_role="admin")
    link = await container.accounts.create_sign_in_link("ada")
    ada = make_client()
    # The link's page asks first; signing in is a POST (no sign-in on a GET).
    r = await ada.get(link.removeprefix("http://townhall.test"))
    assert r.status_code == 200
    r = await ada.post(
        "/api/auth/link", json={"token": link.rsplit("/", 1)[1], "session": "cookie"}
    )
    assert r.status_code == 200, r.text
    me = (await ada.get("/api/me")).json()
    assert me["status"] == "member" and me["staff_role"] == "admin"

    r = await ada.post("/api/invites", json={"email": "grace@example.org"})
    assert r.status_code == 201, r.text
    invite_mail = mailbox.last_to("grace@example.org")
    token = re.search(r"/invite/(\S+)", invite_mail.get_payload()).group(1)  # type: ignore[union-attr, arg-type]

    grace = make_client(ip="10.9.9.9")
    preview = await grace.get(f"/api/invites/link/{token}")
    assert preview.json()["inviter"]["username"] == "ada"
    r = await grace.post("/api/auth/code", json={"email": "grace@example.org"})
    assert r.status_code == 202
    code = code_in(mailbox.last_to("grace@example.org"))
    r = await grace.post(
        "/api/auth/verify",
        json={"email": "grace@example.org", "code": code, "username": "grace", "invite": token},
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["status"] == "member"
    assert r.json()["user"]["invites_left"] == 2

    profile = (await ada.get("/api/users/grace")).json()
    assert profile["nominated_by"]["username"] == "ada"
    invites = (await ada.get("/api/invites")).json()
    assert invites["invites_left"] == 1
    assert invites["invites"][0]["status"] == "used"
