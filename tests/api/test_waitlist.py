"""S2.3 "let them in" over HTTP: hashed contacts, waitlisted contacts, letting one in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from townhall.security import email_hash
from townhall.storage.models import Base


def hashes(*addresses: str) -> list[str]:
    return [email_hash(a) for a in addresses]


async def share(client: Any, *addresses: str) -> int:
    r = await client.put("/api/me/contacts", json={"hashes": hashes(*addresses)})
    assert r.status_code == 200, r.text
    return r.json()["shared"]  # type: ignore[no-any-return]


async def waitlisted(client: Any) -> list[str]:
    r = await client.get("/api/me/contacts/waitlisted")
    assert r.status_code == 200, r.text
    return [u["username"] for u in r.json()["items"]]


async def waiting(people: Any, name: str) -> Any:
    """Someone who signed in without an invite."""
    return await people.sign_in(f"{name}@example.org", username=name)


async def test_contacts_match_people_and_show_who_is_waiting(people: Any) -> None:
    """Shared hashes match members and waitlisted people (never yourself); only the
    waitlisted ones are listed, whatever the case or spaces of the address."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    await waiting(people, "carol")
    await people.member("dave")
    shared = await share(
        alice, " BOB@example.org", "dave@example.org", "alice@example.org", "nobody@example.org"
    )
    assert shared == 4
    assert await waitlisted(alice) == ["bob"]


async def test_uploaded_hashes_are_never_stored(people: Any, container: Any) -> None:
    """After matching, no table holds the hash of an address that matched no one."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    stranger = email_hash("stranger@example.org")
    r = await alice.put("/api/me/contacts", json={"hashes": [stranger, *hashes("bob@x.org")]})
    assert r.status_code == 200
    async with container.db.transaction() as tx:
        for table in Base.metadata.sorted_tables:
            for row in (await tx.execute(select(table))).all():
                assert stranger not in repr(tuple(row)), table.name


async def test_each_upload_replaces_the_previous_matches(people: Any) -> None:
    """A new upload forgets what the last one matched; an empty one forgets everything."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    await waiting(people, "carol")
    await share(alice, "bob@example.org")
    await share(alice, "carol@example.org")
    assert await waitlisted(alice) == ["carol"]
    assert await share(alice) == 0
    assert await waitlisted(alice) == []


async def test_forgetting_contacts_removes_every_match(people: Any) -> None:
    """DELETE /api/me/contacts drops the matches; letting in is then refused."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    await share(alice, "bob@example.org")
    r = await alice.delete("/api/me/contacts")
    assert r.status_code == 200
    assert await waitlisted(alice) == []
    r = await alice.post("/api/waitlist/bob/let-in")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_in_contacts"


async def test_a_member_lets_a_waitlisted_contact_in_for_free(people: Any) -> None:
    """Letting in spends no invite; the newcomer gets invites and the member as nominator."""
    alice = await people.member("alice")
    bob = await waiting(people, "bob")
    await share(alice, "bob@example.org")
    r = await alice.post("/api/waitlist/@Bob/let-in")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "user": {"username": "bob", "display_name": "", "avatar_url": None},
        "status": "member",
    }
    me = (await bob.get("/api/me")).json()
    assert me["status"] == "member"
    assert me["invites_left"] == 2
    profile = (await alice.get("/api/users/bob")).json()
    assert profile["nominated_by"]["username"] == "alice"
    assert (await alice.get("/api/me")).json()["invites_left"] == 2
    assert await waitlisted(alice) == []

    again = await alice.post("/api/waitlist/bob/let-in")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_member"


async def test_only_contacts_can_be_let_in(people: Any) -> None:
    """A waitlisted stranger is 403 not_in_contacts; an unknown name is 404."""
    alice = await people.member("alice")
    await waiting(people, "carol")
    r = await alice.post("/api/waitlist/carol/let-in")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_in_contacts"
    r = await alice.post("/api/waitlist/ghost/let-in")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "user_not_found"


async def test_letting_in_a_member_is_a_conflict(people: Any) -> None:
    """A contact who is already a member answers 409 already_member."""
    alice = await people.member("alice")
    await people.member("dave")
    await share(alice, "dave@example.org")
    r = await alice.post("/api/waitlist/dave/let-in")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_member"


async def test_two_members_letting_in_the_same_person_at_once(people: Any) -> None:
    """Only one of two simultaneous let-ins wins, and the winner is the nominator."""
    alice = await people.member("alice")
    dave = await people.member("dave")
    await waiting(people, "bob")
    await share(alice, "bob@example.org")
    await share(dave, "bob@example.org")
    answers = await asyncio.gather(
        alice.post("/api/waitlist/bob/let-in"), dave.post("/api/waitlist/bob/let-in")
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    winner = "alice" if answers[0].status_code == 200 else "dave"
    profile = (await alice.get("/api/users/bob")).json()
    assert profile["nominated_by"]["username"] == winner


async def test_blocked_contacts_are_hidden_and_cannot_be_let_in(people: Any) -> None:
    """A contact the member blocked, or who blocked the member, is neither listed nor let in."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    carol = await waiting(people, "carol")
    await share(alice, "bob@example.org", "carol@example.org")
    assert (await alice.put("/api/users/bob/block")).status_code == 200
    assert (await carol.put("/api/users/alice/block")).status_code == 200
    assert await waitlisted(alice) == []
    for name in ("bob", "carol"):
        r = await alice.post(f"/api/waitlist/{name}/let-in")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "not_in_contacts"


async def test_waitlisted_contacts_are_paginated(people: Any) -> None:
    """Pages follow usernames; the last page has no cursor; a forged cursor is 400."""
    alice = await people.member("alice")
    for name in ("erin", "bob", "carol"):
        await waiting(people, name)
    await share(alice, "bob@example.org", "carol@example.org", "erin@example.org")
    first = (await alice.get("/api/me/contacts/waitlisted", params={"limit": 2})).json()
    assert [u["username"] for u in first["items"]] == ["bob", "carol"]
    assert first["next_cursor"]
    second = (
        await alice.get(
            "/api/me/contacts/waitlisted", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [u["username"] for u in second["items"]] == ["erin"]
    assert second["next_cursor"] is None
    bad = await alice.get("/api/me/contacts/waitlisted", params={"cursor": "bm9wZQ"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_cursor"


async def test_waitlisted_people_cannot_share_contacts_or_let_in(people: Any) -> None:
    """Sharing, listing and letting in are for members: 403 not_a_member."""
    wendy = await waiting(people, "wendy")
    await waiting(people, "bob")
    for r in (
        await wendy.put("/api/me/contacts", json={"hashes": hashes("bob@example.org")}),
        await wendy.get("/api/me/contacts/waitlisted"),
        await wendy.post("/api/waitlist/bob/let-in"),
    ):
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "not_a_member"
    assert (await wendy.delete("/api/me/contacts")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"hashes": ["A" * 64]},
        {"hashes": ["a" * 63]},
        {"hashes": ["g" * 64]},
        {"hashes": "a" * 64},
        {"hashes": [1]},
        {},
        {"hashes": [], "emails": []},
    ],
)
async def test_malformed_contact_uploads_are_422(people: Any, body: Any) -> None:
    """Anything but a list of lower-case hex SHA-256 strings is refused as invalid_input."""
    alice = await people.member("alice")
    r = await alice.put("/api/me/contacts", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


@pytest.mark.settings(contacts_max_hashes=3)
async def test_uploads_over_the_cap_are_refused(people: Any) -> None:
    """More contacts than contacts_max_hashes answers 413 too_many_contacts."""
    alice = await people.member("alice")
    r = await alice.put("/api/me/contacts", json={"hashes": hashes("a@x", "b@x", "c@x", "d@x")})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_many_contacts"
    assert await share(alice, "a@x", "b@x", "c@x") == 3


async def test_a_full_address_book_is_matched(people: Any) -> None:
    """Five thousand hashes (the default cap) are matched in one upload."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    book = [f"friend{i}@example.org" for i in range(4999)] + ["bob@example.org"]
    assert await share(alice, *book) == 5000
    assert await waitlisted(alice) == ["bob"]


@pytest.mark.settings(limit_contact_uploads_per_user="2/3600")
async def test_contact_uploads_are_rate_limited(people: Any) -> None:
    """Uploading again and again runs into 429."""
    alice = await people.member("alice")
    await share(alice)
    await share(alice)
    r = await alice.put("/api/me/contacts", json={"hashes": []})
    assert r.status_code == 429
    assert "Retry-After" in r.headers


@pytest.mark.settings(limit_let_ins_per_user="1/86400")
async def test_letting_in_is_rate_limited(people: Any) -> None:
    """Past the let-in limit the next one is 429, like invites."""
    alice = await people.member("alice")
    await waiting(people, "bob")
    await waiting(people, "carol")
    await share(alice, "bob@example.org", "carol@example.org")
    assert (await alice.post("/api/waitlist/bob/let-in")).status_code == 200
    r = await alice.post("/api/waitlist/carol/let-in")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
