"""Typed text and usernames follow one rule each, wherever a person types them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.api.clubkit import code, found
from tests.api.test_events import EVENT
from tests.conftest import request_code
from tests.test_cli import cli_for
from townhall.config import Settings

pytestmark = pytest.mark.settings(
    club_found_min_rooms_hosted=0, limit_club_creations_per_user="100/86400"
)

Send = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


async def room_title(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/rooms", json={"title": value})


async def display_name(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.patch("/api/me", json={"display_name": value})


async def bio(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.patch("/api/me", json={"bio": value})


async def club_name(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/clubs", json={"name": f"Club {value}"})


async def club_description(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/clubs", json={"name": "Jazz", "description": value})


async def club_rule(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/clubs", json={"name": "Jazz", "rules": [value]})


async def event_name(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/events", json={**EVENT, "name": value})


async def event_description(client: httpx.AsyncClient, value: str) -> httpx.Response:
    return await client.post("/api/events", json={**EVENT, "description": value})


# field -> (how to send it, the field the error names, whether new lines are kept)
FIELDS: dict[str, tuple[Send, str, bool]] = {
    "room title": (room_title, "title", False),
    "display name": (display_name, "display_name", False),
    "bio": (bio, "bio", True),
    "club name": (club_name, "name", False),
    "club description": (club_description, "description", True),
    "club rule": (club_rule, "rules", False),
    "event name": (event_name, "name", False),
    "event description": (event_description, "description", True),
}

REFUSED = [
    "\u202eecalevol",  # right-to-left override
    "left \u2067right\u2069",  # isolate
    "zero\u200bwidth",  # zero-width space
    "mark\u200fed",  # right-to-left mark
    "nul\x00here",
    "bell \x07",
    "escape \x1b[31m red",
    "tab\there",
]


@pytest.mark.parametrize("field", FIELDS)
async def test_control_and_format_characters_are_refused_alike(people: Any, field: str) -> None:
    """Bidi overrides, isolates, zero-width spaces, controls and tabs are refused in every
    field with control_characters naming the field; a new line only in multi-line ones."""
    send, name, multiline = FIELDS[field]
    ada = await people.member("ada")
    refused = [*REFUSED, *([] if multiline else ["two\nlines"])]
    for value in refused:
        r = await send(ada, value)
        assert r.status_code == 400, (value, r.text)
        assert (code(r), r.json()["error"]["field"]) == ("control_characters", name), value


def strings(value: Any) -> list[str]:
    """Every string inside a JSON answer."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in strings(v)] if isinstance(value, list) else []


@pytest.mark.parametrize("field", FIELDS)
async def test_every_field_folds_spaces_and_keeps_scripts_and_emoji(
    people: Any, field: str
) -> None:
    """Runs of spaces fold into one, ends are trimmed; right-to-left text, accents and emoji
    joined with zero-width joiners are kept as typed."""
    send, _, multiline = FIELDS[field]
    ada = await people.member("ada")
    typed = "  ليلى   👩\u200d💻\u00a0Zoë "
    kept = "ليلى 👩\u200d💻 Zoë"
    if multiline:
        typed, kept = typed + "\r\n Ada  \n", kept + "\nAda"
    r = await send(ada, typed)
    assert r.status_code in (200, 201), r.text
    assert any(s.endswith(kept) for s in strings(r.json())), r.text


async def test_lengths_are_counted_after_folding(people: Any) -> None:
    """An event name of 59 characters once its spaces fold fits; 61 are event_name_too_long."""
    ada = await people.member("ada")
    r = await event_name(ada, "  " + "a  " * 30)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == " ".join("a" * 30)
    r = await event_name(ada, "é" * 61)
    assert r.status_code == 400 and code(r) == "event_name_too_long"


# --- usernames ---------------------------------------------------------------------------

TOO_SHORT, SHORTEST, LONGEST, TOO_LONG = "ab", "abc", "a" * 20, "a" * 21


async def sign_up(people: Any, n: int, username: str) -> tuple[str, str]:
    """(error code or "ok", the username kept) for a first sign-in choosing ``username``."""
    email = f"new{n}@example.org"
    people.clock.advance(seconds=31)
    client = people.make_client(ip=f"10.9.0.{n + 1}")
    sent = await request_code(client, people.mailbox, email)
    body = {"email": email, "code": sent, "username": username, "session": "token"}
    r = await client.post("/api/auth/verify", json=body)
    if r.status_code != 200:
        return code(r), ""
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    return "ok", str(me.json()["username"])


BOUNDS = [
    (TOO_SHORT, "invalid_username", ""),
    (SHORTEST, "ok", SHORTEST),
    (LONGEST, "ok", LONGEST),
    (TOO_LONG, "invalid_username", ""),
    ("dash-ed", "invalid_username", ""),
    (" @Ada_L ", "ok", "ada_l"),
    ("Admin", "username_taken", ""),
]


async def test_sign_up_username_bounds(people: Any) -> None:
    """Sign-up takes 3 to 20 of [a-z0-9_], lower-cased, with a leading @ dropped."""
    for n, (typed, outcome, stored) in enumerate(BOUNDS):
        assert await sign_up(people, n, typed) == (outcome, stored), typed


async def test_command_line_username_bounds(settings: Settings) -> None:
    """create-member and create-admin refuse and accept at the bounds sign-up has (each
    command line run costs seconds, so each command is tried at one end of the range)."""
    cli = cli_for(settings)
    cases = [
        ("create-member", "m" * 2, "invalid_username"),
        ("create-member", " @" + "M" * 19 + "_", "created member @" + "m" * 19 + "_"),
        ("create-admin", "s" * 21, "invalid_username"),
        ("create-admin", "Sam", "created admin @sam"),
    ]
    for n, (command, typed, outcome) in enumerate(cases):
        ran = await cli(command, "--email", f"cli{n}@example.org", "--username", typed)
        if outcome.startswith("created"):
            assert ran.code == 0 and outcome in ran.out, (typed, ran.err)
        else:
            assert ran.code == 1 and f"({outcome})" in ran.err, (typed, ran.err)


async def test_every_lookup_reads_a_username_the_same_way(people: Any) -> None:
    """Profiles, follows, staff tools, club invitations and co-hosts find "@ADA " as ada,
    and a name outside the bounds as nobody."""
    await people.member("ada")
    bob = await people.member("bob")
    admin = await people.admin()
    club = await found(bob, "Jazz Lovers", policy="invitation")
    typed, nobody = "%40ADA%20", "a" * 21
    checks: list[tuple[str, str, dict[str, Any] | None, httpx.AsyncClient]] = [
        ("GET", "/api/users/{}", None, bob),
        ("PUT", "/api/users/{}/follow", None, bob),
        ("POST", "/api/admin/users/{}/invites", {"count": 1}, admin),
    ]
    for method, path, body, who in checks:
        r = await who.request(method, path.format(typed), json=body)
        assert r.status_code == 200, (path, r.text)
        r = await who.request(method, path.format(nobody), json=body)
        assert (r.status_code, code(r)) == (404, "user_not_found"), path
    r = await bob.post(f"/api/clubs/{club['id']}/invitations", json={"username": " @ADA "})
    assert r.status_code in (200, 201), r.text
    r = await bob.post(f"/api/clubs/{club['id']}/invitations", json={"username": nobody})
    assert code(r) == "user_not_found"
    r = await bob.post("/api/events", json={**EVENT, "cohosts": [" @ADA "]})
    assert r.status_code == 201 and [h["username"] for h in r.json()["invited"]] == ["ada"]
    r = await bob.post("/api/events", json={**EVENT, "cohosts": [nobody]})
    assert (code(r), r.json()["error"]["usernames"]) == ("cohost_not_member", [nobody])
