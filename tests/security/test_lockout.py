"""Issue 11 item 14: someone else asking for codes for your address does not lock you out;
the address as a whole still has a cap."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeClock, Mailbox, request_code


async def test_someone_asking_for_your_codes_does_not_lock_you_out(
    make_client: Any, mailbox: Mailbox, clock: FakeClock
) -> None:
    """A stranger asks for five codes (their limit) for your address; you still get one and
    sign in with it."""
    stranger = make_client(ip="198.51.100.20")
    for _ in range(5):
        r = await stranger.post("/api/auth/code", json={"email": "you@example.org"})
        assert r.status_code == 202
        clock.advance(seconds=31)
    r = await stranger.post("/api/auth/code", json={"email": "you@example.org"})
    assert r.status_code == 429
    you = make_client(ip="192.0.2.20")
    code = await request_code(you, mailbox, "you@example.org")
    r = await you.post(
        "/api/auth/verify", json={"email": "you@example.org", "code": code, "username": "you"}
    )
    assert r.status_code == 200, r.text


async def test_someone_asking_just_before_you_does_not_delay_you(
    make_client: Any, mailbox: Mailbox
) -> None:
    """The resend interval counts per client: your own request right after a stranger's is
    answered, and your code works."""
    stranger = make_client(ip="198.51.100.21")
    assert (await stranger.post("/api/auth/code", json={"email": "me@example.org"})).status_code
    you = make_client(ip="192.0.2.21")
    code = await request_code(you, mailbox, "me@example.org")
    r = await you.post(
        "/api/auth/verify", json={"email": "me@example.org", "code": code, "username": "mee"}
    )
    assert r.status_code == 200, r.text


@pytest.mark.settings(limit_code_requests_per_email="3/3600")
async def test_an_address_has_a_cap_whoever_asks(make_client: Any) -> None:
    """Codes to one address from many clients stop at the address's cap."""
    statuses = [
        (
            await make_client(ip=f"203.0.113.{n}").post(
                "/api/auth/code", json={"email": "flood@example.org"}
            )
        ).status_code
        for n in range(1, 5)
    ]
    assert statuses == [202, 202, 202, 429]
