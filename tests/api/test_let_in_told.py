"""Being let in is told (docs/invitations.md): a live notification to the waitlisted
person's open socket and a mail, whether a member or an operator lets them in; and the
newcomer follows whoever let them in (an invite or "let them in"), never across a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.test_notifications_live import notification
from tests.api.test_waitlist import share, waiting
from tests.api.test_ws import Socket, serving, token_of
from tests.waiting import ws_connect as connect


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


async def socket_of(base: str, client: Any) -> Socket:
    ws = await connect(
        f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(client)}"}
    )
    s = Socket(ws)
    await s.request("unsubscribe", room="none")  # attached once this answers
    return s


async def following(client: Any, username: str) -> list[str]:
    r = await client.get(f"/api/users/{username}/following")
    assert r.status_code == 200, r.text
    return [p["username"] for p in r.json()["items"]]


async def test_a_let_in_person_hears_it_live_and_by_mail(
    base: str, people: Any, mailbox: Any
) -> None:
    """The waitlisted person's socket gets ``waitlist.admitted`` naming the member, a mail
    says they are in, and they follow the member who let them in."""
    alice = await people.member("alice")
    bob = await waiting(people, "bob")
    s = await socket_of(base, bob)
    await share(alice, "bob@example.org")
    r = await alice.post("/api/waitlist/bob/let-in")
    assert r.status_code == 200, r.text

    told = await notification(s)
    assert told["name"] == "waitlist.admitted"
    assert told["actor"]["username"] == "alice"
    mail = mailbox.last_to("bob@example.org")
    assert mail["Subject"] == "You're in: welcome to Townhall"
    assert "alice let you in" in mail.get_payload(decode=True).decode()
    assert (await bob.get("/api/me")).json()["status"] == "member"
    assert await following(bob, "bob") == ["alice"]
    inbox = (await bob.get("/api/notifications")).json()["items"]
    assert [n["name"] for n in inbox] == ["waitlist.admitted"]
    # The member is not told of a follow they caused themselves.
    names = [n["name"] for n in (await alice.get("/api/notifications")).json()["items"]]
    assert "user.followed" not in names


async def test_an_operator_approval_is_told_too(base: str, people: Any, mailbox: Any) -> None:
    """Approved by an operator: the same notification without an actor, the same mail,
    and no one to follow."""
    admin = await people.admin()
    cyd = await waiting(people, "cyd")
    s = await socket_of(base, cyd)
    r = await admin.post("/api/admin/waitlist/approve", json={"usernames": ["cyd"]})
    assert r.status_code == 200, r.text
    told = await notification(s)
    assert told["name"] == "waitlist.admitted" and told["actor"] is None
    assert "You are in" in mailbox.last_to("cyd@example.org").get_payload(decode=True).decode()
    assert await following(cyd, "cyd") == []


async def test_signing_up_with_an_invite_follows_the_inviter(people: Any) -> None:
    """The invitee follows their inviter at once; the inviter hears ``invitee.joined`` only."""
    alice = await people.member("alice")
    r = await alice.post("/api/invites", json={})
    assert r.status_code == 201, r.text
    token = r.json()["link"].rsplit("/", 1)[-1]
    dan = await people.sign_in("dan@example.org", username="dan", invite=token)
    assert (await dan.get("/api/me")).json()["status"] == "member"
    assert await following(dan, "dan") == ["alice"]
    names = [n["name"] for n in (await alice.get("/api/notifications")).json()["items"]]
    assert names == ["invitee.joined"]


async def test_no_follow_across_a_block(people: Any) -> None:
    """Someone who blocked the inviter while waiting joins with their invite without
    following them."""
    alice = await people.member("alice")
    bob = await waiting(people, "bob")
    r = await bob.put("/api/users/alice/block")
    assert r.status_code == 200, r.text
    r = await alice.post("/api/invites", json={"email": "bob@example.org"})
    assert r.status_code == 201, r.text
    bob = await people.sign_in("bob@example.org")
    assert (await bob.get("/api/me")).json()["status"] == "member"
    assert await following(bob, "bob") == []


@pytest.mark.parametrize(
    ("username", "problem"),
    [
        ("ab", "too_short"),
        ("a" * 21, "too_long"),
        ("bob smith", "characters"),
        ("é_ok", "characters"),
    ],
)
async def test_a_badly_formed_username_says_what_is_wrong(
    people: Any, client: Any, mailbox: Any, username: str, problem: str
) -> None:
    """``invalid_username`` names the rule broken, so the client can say it in words."""
    from tests.conftest import request_code

    code = await request_code(client, mailbox, "new@example.org")
    r = await client.post(
        "/api/auth/verify",
        json={"email": "new@example.org", "code": code, "username": username, "session": "token"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "invalid_username",
        "message": "A username is 3 to 20 characters: lower-case letters, digits and underscores.",
        "problem": problem,
        "min": 3,
        "max": 20,
    }
