"""Issue 11 item 1: a sign-in code cannot be guessed faster than its attempts allow."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import FakeClock, Mailbox, request_code


def wrong_for(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_concurrent_wrong_guesses_spend_at_most_the_cap(
    make_client: Any, mailbox: Mailbox
) -> None:
    """Many wrong guesses at once: at most five are evaluated, and the right code is then
    refused."""
    guesser = make_client(ip="198.51.100.7")
    code = await request_code(guesser, mailbox, "victim@example.org")
    body = {"email": "victim@example.org", "code": wrong_for(code)}
    answers = await asyncio.gather(
        *(guesser.post("/api/auth/verify", json=body) for _ in range(25))
    )
    codes = [a.json()["error"]["code"] for a in answers]
    evaluated = codes.count("code_invalid")
    assert 1 <= evaluated <= 5, codes
    assert set(codes) <= {"code_invalid", "too_many_attempts", "rate_limited"}, codes
    owner = make_client(ip="192.0.2.50")
    r = await owner.post(
        "/api/auth/verify", json={"email": "victim@example.org", "code": code, "username": "vic"}
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "too_many_attempts"


async def test_concurrent_right_codes_sign_in_once(make_client: Any, mailbox: Mailbox) -> None:
    """The right code sent twice at once gives one session, not two."""
    client = make_client(ip="198.51.100.8")
    code = await request_code(client, mailbox, "twice@example.org")
    body = {"email": "twice@example.org", "code": code, "username": "twice", "session": "token"}
    answers = await asyncio.gather(*(client.post("/api/auth/verify", json=body) for _ in range(4)))
    assert sorted(a.status_code for a in answers).count(200) == 1, [a.text for a in answers]


async def test_one_client_cannot_guess_on_and_on_with_fresh_codes(
    make_client: Any, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Asking for new codes does not buy one client endless guesses at one address: past
    ten guesses an hour it gets 429, while the address's owner, elsewhere, still signs in."""
    guesser = make_client(ip="198.51.100.9")
    statuses = []
    for _ in range(3):
        code = await request_code(guesser, mailbox, "target@example.org")
        for _ in range(5):
            r = await guesser.post(
                "/api/auth/verify",
                json={"email": "target@example.org", "code": wrong_for(code)},
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        clock.advance(seconds=31)
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    owner = make_client(ip="192.0.2.51")
    code = await request_code(owner, mailbox, "target@example.org")
    r = await owner.post(
        "/api/auth/verify", json={"email": "target@example.org", "code": code, "username": "tgt"}
    )
    assert r.status_code == 200, r.text
