"""S2.1 invites over HTTP: by email and by link, the quota, cancelling, and redeeming."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.conftest import Mailbox, request_code


def token_of(link: str) -> str:
    return link.rsplit("/invite/", 1)[1]


def mailed_token(mailbox: Mailbox, address: str) -> str:
    match = re.search(r"/invite/(\S+)", mailbox.last_to(address).get_payload())  # type: ignore[arg-type]
    assert match, "no invite link in the mail"
    return match.group(1)


async def invite(client: Any, email: str | None = None) -> dict[str, Any]:
    r = await client.post("/api/invites", json={"email": email} if email else {})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def verify(make_client: Any, mailbox: Mailbox, email: str, username: str, token: str) -> Any:
    """Sign up through the public API with an invite token; returns the raw answer."""
    client = make_client(ip="10.77.0.1")
    code = await request_code(client, mailbox, email)
    return await client.post(
        "/api/auth/verify",
        json={"email": email, "code": code, "username": username, "invite": token},
    )


async def nominator_of(client: Any, username: str) -> str | None:
    nominated_by = (await client.get(f"/api/users/{username}")).json()["nominated_by"]
    return nominated_by["username"] if nominated_by else None


async def test_email_invite_lets_the_invitee_in_without_the_token(
    people: Any, mailbox: Mailbox
) -> None:
    """An emailed invite mails the link; signing up with that address alone makes a member
    nominated by the inviter, with invites of their own."""
    alice = await people.member("alice")
    sent = await invite(alice, "Bob@Example.org")
    assert sent["email"] == "bob@example.org"
    assert sent["status"] == "pending"
    assert token_of(sent["link"]) == mailed_token(mailbox, "bob@example.org")
    assert "alice" in mailbox.last_to("bob@example.org")["Subject"]

    bob = await people.sign_in("bob@example.org", username="bob")
    me = (await bob.get("/api/me")).json()
    assert me["status"] == "member"
    assert me["invites_left"] == 2
    assert await nominator_of(bob, "bob") == "alice"
    listed = (await alice.get("/api/invites")).json()
    assert listed["invites_left"] == 1
    assert [i["status"] for i in listed["invites"]] == ["used"]


async def test_email_invite_also_works_through_its_link(people: Any, mailbox: Mailbox) -> None:
    """Following the mailed link (sending its token at sign-up) makes the same member."""
    alice = await people.member("alice")
    await invite(alice, "bob@example.org")
    token = mailed_token(mailbox, "bob@example.org")
    bob = await people.sign_in("bob@example.org", username="bob", invite=token)
    assert (await bob.get("/api/me")).json()["status"] == "member"
    assert await nominator_of(bob, "bob") == "alice"


async def test_link_invite_works_for_whoever_holds_it(people: Any, client: Any) -> None:
    """A link invite names its sender to visitors and lets any newcomer in, once."""
    alice = await people.member("alice")
    sent = await invite(alice)
    assert sent["email"] is None
    token = token_of(sent["link"])
    preview = await client.get(f"/api/invites/link/{token}")
    assert preview.status_code == 200
    assert preview.json()["inviter"]["username"] == "alice"

    carol = await people.sign_in("carol@example.org", username="carol", invite=token)
    assert (await carol.get("/api/me")).json()["status"] == "member"
    assert await nominator_of(carol, "carol") == "alice"


async def test_quota_is_two_then_no_invites_left(people: Any) -> None:
    """A new member has two invites; the third is refused and nothing is spent."""
    alice = await people.member("alice")
    await invite(alice)
    await invite(alice, "x@example.org")
    r = await alice.post("/api/invites", json={})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "no_invites_left"
    listed = (await alice.get("/api/invites")).json()
    assert listed["invites_left"] == 0
    assert len(listed["invites"]) == 2


async def test_concurrent_sends_cannot_overspend(people: Any) -> None:
    """Two invites sent at once with one left: exactly one goes out."""
    alice = await people.member("alice")
    await invite(alice)
    answers = await asyncio.gather(*(alice.post("/api/invites", json={}) for _ in range(8)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    listed = (await alice.get("/api/invites")).json()
    assert listed["invites_left"] == 0
    assert len(listed["invites"]) == 2


async def test_cancelling_an_unused_invite_refunds_it_and_kills_the_link(
    people: Any, client: Any, make_client: Any, mailbox: Mailbox
) -> None:
    """Cancelling gives the invite back; its link then answers 410, and twice is 410."""
    alice = await people.member("alice")
    sent = await invite(alice)
    r = await alice.delete(f"/api/invites/{sent['id']}")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert (await alice.get("/api/invites")).json()["invites_left"] == 2

    token = token_of(sent["link"])
    preview = await client.get(f"/api/invites/link/{token}")
    assert preview.status_code == 410
    assert preview.json()["error"]["code"] == "invite_cancelled"
    r = await verify(make_client, mailbox, "late@example.org", "late", token)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "invite_cancelled"
    again = await alice.delete(f"/api/invites/{sent['id']}")
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "invite_cancelled"
    assert (await alice.get("/api/invites")).json()["invites_left"] == 2


async def test_a_used_invite_cannot_be_cancelled_or_used_again(
    people: Any, client: Any, make_client: Any, mailbox: Mailbox
) -> None:
    """Once used, an invite answers 409 invite_used to a second newcomer and to cancelling."""
    alice = await people.member("alice")
    sent = await invite(alice)
    token = token_of(sent["link"])
    await people.sign_in("bob@example.org", username="bob", invite=token)

    r = await verify(make_client, mailbox, "carol@example.org", "carol", token)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invite_used"
    assert (await client.get(f"/api/invites/link/{token}")).json()["error"]["code"] == (
        "invite_used"
    )
    r = await alice.delete(f"/api/invites/{sent['id']}")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "invite_used"
    assert (await alice.get("/api/invites")).json()["invites_left"] == 1


async def test_unknown_invite_is_404_and_does_not_burn_the_sign_in(
    people: Any, client: Any, make_client: Any, mailbox: Mailbox
) -> None:
    """A made-up token answers 404 invite_not_found; the newcomer can still sign up without it."""
    r = await client.get("/api/invites/link/not-a-real-token")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "invite_not_found"
    r = await verify(make_client, mailbox, "dan@example.org", "dan", "not-a-real-token")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "invite_not_found"
    dan = await people.sign_in("dan@example.org", username="dan")
    assert (await dan.get("/api/me")).json()["status"] == "waitlisted"


async def test_cannot_cancel_someone_elses_invite(people: Any) -> None:
    """Another member's invite is not found, and stays pending."""
    alice = await people.member("alice")
    mallory = await people.member("mallory")
    sent = await invite(alice)
    r = await mallory.delete(f"/api/invites/{sent['id']}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "invite_not_found"
    assert (await alice.get("/api/invites")).json()["invites"][0]["status"] == "pending"


async def test_inviting_the_same_address_twice_is_refused(people: Any) -> None:
    """A second pending invite to one address answers 409 already_invited."""
    alice = await people.member("alice")
    await invite(alice, "bob@example.org")
    r = await alice.post("/api/invites", json={"email": "BOB@example.org "})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_invited"
    assert (await alice.get("/api/invites")).json()["invites_left"] == 1


async def test_waitlisted_people_cannot_invite(people: Any) -> None:
    """Someone on the waitlist gets 403 not_a_member for sending or listing invites."""
    wendy = await people.sign_in("wendy@example.org", username="wendy")
    for r in (await wendy.post("/api/invites", json={}), await wendy.get("/api/invites")):
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "not_a_member"


@pytest.mark.settings(limit_invites_per_user="2/86400")
async def test_sending_invites_is_rate_limited(people: Any) -> None:
    """Past the hourly limit the next invite is 429 with Retry-After, even with quota left."""
    alice = await people.member("alice")
    sent = await invite(alice)
    await alice.delete(f"/api/invites/{sent['id']}")
    sent = await invite(alice)
    await alice.delete(f"/api/invites/{sent['id']}")
    r = await alice.post("/api/invites", json={})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0
    assert (await alice.get("/api/invites")).json()["invites_left"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/invites", {"email": "not an address"}, 400, "invalid_email"),
        ("POST", "/api/invites", {"email": "a@b.org", "extra": 1}, 422, "invalid_input"),
        ("POST", "/api/invites", {"email": "x" * 400}, 422, "invalid_input"),
        ("DELETE", f"/api/invites/{2**63}", None, 422, "invalid_input"),
        ("DELETE", "/api/invites/0", None, 422, "invalid_input"),
        ("DELETE", "/api/invites/abc", None, 422, "invalid_input"),
        ("GET", "/api/invites/link/" + "t" * 201, None, 422, "invalid_input"),
    ],
)
async def test_bad_input_is_refused_cleanly(
    people: Any, method: str, path: str, body: Any, status: int, code: str
) -> None:
    """Malformed addresses, bodies and ids get a 4xx with a code, never a 500."""
    alice = await people.member("alice")
    r = await alice.request(method, path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


async def test_inviting_needs_a_session(client: Any) -> None:
    """Without a session the invite routes answer 401."""
    r = await client.post("/api/invites", json={})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_signed_in"
