"""Issue 11 item 6: neither contact matching nor invites tell a member whether an address has
an account."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_invites import invite, nominator_of
from tests.conftest import Mailbox
from townhall.security import email_hash


async def share(client: Any, *addresses: str) -> Any:
    return await client.put("/api/me/contacts", json={"hashes": [email_hash(a) for a in addresses]})


def without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("id", "link", "email", "created_at")}


async def test_sharing_contacts_does_not_count_matches(people: Any) -> None:
    """One hash of a member's address and one of nobody's get the same answer."""
    alice = await people.member("alice")
    await people.member("bob")
    known = await share(alice, "bob@example.org")
    unknown = await share(alice, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()


@pytest.mark.settings(limit_contact_hashes_per_user="6/86400")
async def test_distinct_addresses_per_day_are_capped(people: Any, clock: Any) -> None:
    """Past the daily budget of addresses, another upload is 429 whatever its size; the
    budget comes back after a day."""
    alice = await people.member("alice")
    first = await share(alice, *(f"a{n}@example.org" for n in range(4)))
    assert first.status_code == 200
    over = await share(alice, *(f"b{n}@example.org" for n in range(3)))
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "rate_limited"
    assert (await share(alice, "c@example.org", "d@example.org")).status_code == 200
    assert (await share(alice, "e@example.org")).status_code == 429
    clock.advance(days=1, seconds=1)
    assert (await share(alice, *(f"b{n}@example.org" for n in range(3)))).status_code == 200


async def test_inviting_a_member_a_waiting_person_or_nobody_answers_alike(
    people: Any, mailbox: Mailbox
) -> None:
    """Inviting a member's address, a waiting person's and a stranger's: the same status
    and body, an invite spent each time, each one still pending."""
    alice = await people.member("alice")
    admin = await people.admin("root_admin")
    await admin.post("/api/admin/users/alice/invites", json={"count": 1})
    await people.member("bob")
    await people.sign_in("wendy@example.org", username="wendy")
    answers = [
        await alice.post("/api/invites", json={"email": address})
        for address in ("bob@example.org", "wendy@example.org", "nobody@example.org")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    bodies = [without_ids(a.json()) for a in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    listed = (await alice.get("/api/invites")).json()
    assert listed["invites_left"] == 0
    assert [i["status"] for i in listed["invites"]] == ["pending"] * 3
    assert "member already" in mailbox.last_to("bob@example.org").get_payload()  # type: ignore[operator]


async def test_a_waiting_person_invited_by_email_joins_at_their_next_sign_in(
    people: Any, mailbox: Mailbox
) -> None:
    """The invite waits for the person on the waitlist like for a newcomer: at their next
    sign-in they are a member, nominated by the inviter."""
    wendy = await people.sign_in("wendy@example.org", username="wendy")
    alice = await people.member("alice")
    sent = await invite(alice, "wendy@example.org")
    assert sent["status"] == "pending"
    assert (await wendy.get("/api/me")).json()["status"] == "waitlisted"
    again = await people.sign_in("wendy@example.org")
    me = (await again.get("/api/me")).json()
    assert me["status"] == "member"
    assert me["invites_left"] == 2
    assert await nominator_of(again, "wendy") == "alice"
    assert (await alice.get("/api/invites")).json()["invites"][0]["status"] == "used"
