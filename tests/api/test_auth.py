"""S1 sign-in over HTTP: codes, sessions, usernames, the waitlist and enumeration safety."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeClock, Mailbox, code_in, request_code


async def test_first_sign_in_reserves_username_and_lands_on_waitlist(
    client: Any, mailbox: Mailbox
) -> None:
    """A newcomer without an invite gets a session, a reserved username and the waitlist."""
    code = await request_code(client, mailbox, "ada@example.org")
    r = await client.post(
        "/api/auth/verify", json={"email": "Ada@Example.org", "code": code, "username": "Ada_L"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] is True
    assert body["user"]["username"] == "ada_l"
    assert body["user"]["status"] == "waitlisted"
    assert body["token"] is None
    assert "townhall_session" in r.cookies
    me = await client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.org"


async def test_cookie_is_httponly_and_samesite(client: Any, mailbox: Mailbox) -> None:
    """The browser session cookie cannot be read by scripts nor sent cross-site on POST."""
    code = await request_code(client, mailbox, "c@example.org")
    r = await client.post(
        "/api/auth/verify", json={"email": "c@example.org", "code": code, "username": "cee"}
    )
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header


async def test_username_required_then_code_still_works(client: Any, mailbox: Mailbox) -> None:
    """Forgetting the username does not burn the code."""
    code = await request_code(client, mailbox, "b@example.org")
    r = await client.post("/api/auth/verify", json={"email": "b@example.org", "code": code})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "username_required"
    r = await client.post(
        "/api/auth/verify", json={"email": "b@example.org", "code": code, "username": "bee"}
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("ab", "invalid_username"),
        ("has space", "invalid_username"),
        ("x" * 21, "invalid_username"),
        ("admin", "username_taken"),
        ("dash-ed", "invalid_username"),
    ],
)
async def test_bad_usernames_are_refused(
    client: Any, mailbox: Mailbox, username: str, code: str
) -> None:
    """Usernames are 3-20 of [a-z0-9_] and a few are reserved."""
    sent = await request_code(client, mailbox, "u@example.org")
    r = await client.post(
        "/api/auth/verify", json={"email": "u@example.org", "code": sent, "username": username}
    )
    assert r.json()["error"]["code"] == code


async def test_username_is_unique_case_insensitively(
    people: Any, client: Any, mailbox: Mailbox
) -> None:
    """A taken username is refused whatever its case."""
    await people.member("grace")
    sent = await request_code(client, mailbox, "other@example.org")
    r = await client.post(
        "/api/auth/verify", json={"email": "other@example.org", "code": sent, "username": "GRACE"}
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "username_taken"


async def test_malformed_email_is_refused(client: Any) -> None:
    """A malformed address gets invalid_email, never a mail."""
    r = await client.post("/api/auth/code", json={"email": "not-an-email"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_email"


async def test_wrong_code_counts_attempts_then_locks(client: Any, mailbox: Mailbox) -> None:
    """Each wrong code spends an attempt; after five even the right code is refused."""
    code = await request_code(client, mailbox, "d@example.org")
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(5):
        r = await client.post("/api/auth/verify", json={"email": "d@example.org", "code": wrong})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "code_invalid"
        lefts.append(r.json()["error"]["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    r = await client.post(
        "/api/auth/verify", json={"email": "d@example.org", "code": code, "username": "dee"}
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "too_many_attempts"


async def test_expired_code_is_refused(client: Any, mailbox: Mailbox, clock: FakeClock) -> None:
    """Codes last ten minutes."""
    code = await request_code(client, mailbox, "e@example.org")
    clock.advance(minutes=10, seconds=1)
    r = await client.post(
        "/api/auth/verify", json={"email": "e@example.org", "code": code, "username": "eee"}
    )
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "code_expired"


async def test_code_works_once(client: Any, mailbox: Mailbox) -> None:
    """A used code cannot sign in a second device."""
    code = await request_code(client, mailbox, "f@example.org")
    body = {"email": "f@example.org", "code": code, "username": "eff"}
    assert (await client.post("/api/auth/verify", json=body)).status_code == 200
    r = await client.post("/api/auth/verify", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "code_invalid"


async def test_resend_is_rate_limited_with_retry_after(client: Any, mailbox: Mailbox) -> None:
    """A second code within 30 s is refused with 429 and Retry-After; only one mail left."""
    await request_code(client, mailbox, "g@example.org")
    r = await client.post("/api/auth/code", json={"email": "g@example.org"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 30
    assert len(mailbox.to("g@example.org")) == 1


@pytest.mark.settings(limit_sign_in_attempts_per_ip="3/600")
async def test_sign_in_attempts_are_rate_limited_per_address(client: Any, mailbox: Mailbox) -> None:
    """Guessing codes from one address runs into a 429."""
    statuses = []
    for _ in range(4):
        r = await client.post("/api/auth/verify", json={"email": "h@example.org", "code": "123456"})
        statuses.append(r.status_code)
    assert statuses[-1] == 429
    assert "Retry-After" in r.headers


async def test_answers_do_not_reveal_whether_an_account_exists(container: Any, client: Any) -> None:
    """Asking a code for a member and for a stranger gives the same answer."""
    await container.accounts.create_account("known@example.org", "known")
    a = await client.post("/api/auth/code", json={"email": "known@example.org"})
    b = await client.post("/api/auth/code", json={"email": "stranger@example.org"})
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()


async def test_newest_code_replaces_older_ones(
    client: Any, mailbox: Mailbox, clock: FakeClock
) -> None:
    """After a resend only the newest code signs in."""
    first = await request_code(client, mailbox, "i@example.org")
    clock.advance(seconds=31)
    await client.post("/api/auth/code", json={"email": "i@example.org"})
    second = code_in(mailbox.last_to("i@example.org"))
    if first != second:
        r = await client.post(
            "/api/auth/verify", json={"email": "i@example.org", "code": first, "username": "eye"}
        )
        assert r.json()["error"]["code"] == "code_invalid"
    r = await client.post(
        "/api/auth/verify", json={"email": "i@example.org", "code": second, "username": "eye"}
    )
    assert r.status_code == 200


async def test_sessions_are_listed_and_revocable(people: Any) -> None:
    """Two devices show up; revoking one signs it out, 'everywhere' signs out all."""
    phone = await people.member("joe")
    laptop = await people.sign_in("joe@example.org")
    sessions = (await laptop.get("/api/me/sessions")).json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    assert all("token" not in s for s in sessions)
    phone_id = next(s["id"] for s in sessions if not s["current"])
    assert (await laptop.delete(f"/api/me/sessions/{phone_id}")).status_code == 200
    assert (await phone.get("/api/me")).status_code == 401
    assert (await laptop.delete("/api/me/sessions/999999")).json()["error"]["code"] == (
        "session_not_found"
    )
    again = await people.sign_in("joe@example.org")
    assert (await again.delete("/api/me/sessions")).status_code == 200
    assert (await again.get("/api/me")).status_code == 401
    assert (await laptop.get("/api/me")).status_code == 401


async def test_tokens_are_stored_hashed(people: Any, container: Any) -> None:
    """The database never holds a session token in the clear."""
    client = await people.member("kay")
    token = client.headers["Authorization"].split()[1]
    from townhall.storage import auth as auth_store
    from townhall.storage import users as user_store

    async with container.db.transaction() as tx:
        kay = await user_store.by_username(tx, "kay")
        user_sessions = await auth_store.sessions_of(tx, kay.id)
    assert user_sessions
    assert all(token not in (s.token_hash, s.name) for s in user_sessions)


async def test_sign_out_ends_the_session(people: Any) -> None:
    """Signing out makes the token useless."""
    client = await people.member("lou")
    assert (await client.post("/api/auth/signout")).status_code == 200
    r = await client.get("/api/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_signed_in"


async def test_sign_in_link_works_once(container: Any, client: Any) -> None:
    """An operator's link signs in once, sets the cookie, then is spent."""
    await container.accounts.create_account("m@example.org", "emm")
    link = await container.accounts.create_sign_in_link("emm")
    token = link.removeprefix("http://townhall.test/signin/")
    r = await client.post("/api/auth/link", json={"token": token, "session": "cookie"})
    assert r.status_code == 200
    assert (await client.get("/api/me")).json()["username"] == "emm"
    other = await client.post("/api/auth/link", json={"token": token})
    assert other.json()["error"]["code"] == "link_invalid"


async def test_sign_in_link_expires(container: Any, client: Any, clock: FakeClock) -> None:
    """Sign-in links last an hour."""
    await container.accounts.create_account("n@example.org", "enn")
    link = await container.accounts.create_sign_in_link("enn")
    clock.advance(hours=1, seconds=1)
    r = await client.post(
        "/api/auth/link", json={"token": link.rsplit("/", 1)[1], "session": "token"}
    )
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "link_expired"
