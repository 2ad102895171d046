"""S1 profile editing over HTTP: display name, bio, social handles and the nominator line."""

from __future__ import annotations

from typing import Any

import pytest


async def test_edit_profile_returns_and_keeps_the_changes(people: Any) -> None:
    """A PATCH trims the text, strips the @ from handles, and a later GET shows the same."""
    ada = await people.member("ada")
    r = await ada.patch(
        "/api/me",
        json={
            "display_name": "  Ada Lovelace ",
            "bio": "\n Poet of science.\r\nEngines and numbers.  ",
            "show_nominator": False,
            "links": {"twitter": "@ada_l", "instagram": "ada.lovelace"},
        },
    )
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["display_name"] == "Ada Lovelace"
    assert me["bio"] == "Poet of science.\nEngines and numbers."
    assert me["show_nominator"] is False
    assert me["links"] == {"twitter": "ada_l", "instagram": "ada.lovelace"}
    assert (await ada.get("/api/me")).json() == me


async def test_fields_left_out_stay_as_they_are(people: Any) -> None:
    """Changing only the bio leaves the display name and links alone."""
    ada = await people.member("ada")
    await ada.patch("/api/me", json={"display_name": "Ada", "links": {"twitter": "ada"}})
    r = await ada.patch("/api/me", json={"bio": "Hello"})
    assert r.json()["display_name"] == "Ada"
    assert r.json()["links"] == {"twitter": "ada"}
    assert r.json()["bio"] == "Hello"


async def test_links_replace_the_whole_set_and_empty_removes(people: Any) -> None:
    """The links object replaces every handle; an empty or null value drops that one."""
    ada = await people.member("ada")
    await ada.patch("/api/me", json={"links": {"twitter": "ada", "instagram": "ada"}})
    r = await ada.patch("/api/me", json={"links": {"twitter": "", "instagram": "ada2"}})
    assert r.json()["links"] == {"instagram": "ada2"}
    r = await ada.patch("/api/me", json={"links": {"instagram": None}})
    assert r.json()["links"] == {}


async def test_bio_is_limited_to_500_characters(people: Any) -> None:
    """500 characters fit; 501 are refused with bio_too_long and change nothing."""
    ada = await people.member("ada")
    assert (await ada.patch("/api/me", json={"bio": "é" * 500})).status_code == 200
    r = await ada.patch("/api/me", json={"display_name": "New", "bio": "x" * 501})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bio_too_long"
    assert r.json()["error"]["field"] == "bio"
    me = (await ada.get("/api/me")).json()
    assert me["bio"] == "é" * 500
    assert me["display_name"] == ""


@pytest.mark.settings(display_name_max_chars=10)
async def test_display_name_limit_comes_from_settings(people: Any) -> None:
    """The display name limit is the configured one, counted after trimming."""
    ada = await people.member("ada")
    ok = await ada.patch("/api/me", json={"display_name": "  0123456789  "})
    assert ok.status_code == 200
    r = await ada.patch("/api/me", json={"display_name": "0123456789A"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "display_name_too_long"


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": "Ada\x00"},
        {"display_name": "Ada\nLovelace"},
        {"display_name": "Ada\tLovelace"},
        {"display_name": "\u202eecalevol"},
        {"bio": "ring the bell \x07"},
        {"bio": "escape \x1b[31m red"},
    ],
)
async def test_control_characters_are_refused(people: Any, body: dict[str, str]) -> None:
    """NUL, tabs, terminal escapes and bidi overrides are refused (new lines only in bios)."""
    ada = await people.member("ada")
    r = await ada.patch("/api/me", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "control_characters"


async def test_lone_surrogate_is_refused_not_a_crash(people: Any) -> None:
    """A JSON escape for half a UTF-16 pair is refused before it reaches the database."""
    ada = await people.member("ada")
    r = await ada.patch(
        "/api/me",
        content=b'{"display_name": "Ada \\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert (await ada.get("/api/me")).json()["display_name"] == ""


async def test_unicode_names_and_emoji_sequences_are_kept(people: Any) -> None:
    """Right-to-left scripts, accents and joined emoji are ordinary names."""
    ada = await people.member("ada")
    name = "ليلى 👩\u200d💻 Zoë"
    r = await ada.patch("/api/me", json={"display_name": name})
    assert r.status_code == 200
    assert r.json()["display_name"] == name


@pytest.mark.parametrize(
    ("links", "code"),
    [
        ({"twitter": "has space"}, "invalid_handle"),
        ({"twitter": "a" * 16}, "invalid_handle"),
        ({"twitter": "dash-ed"}, "invalid_handle"),
        ({"twitter": "https://x.com/ada"}, "invalid_handle"),
        ({"instagram": ".ada"}, "invalid_handle"),
        ({"instagram": "ada..l"}, "invalid_handle"),
        ({"instagram": "ada."}, "invalid_handle"),
        ({"instagram": "a" * 31}, "invalid_handle"),
        ({"mastodon": "@ada@example.social"}, "unknown_link"),
    ],
)
async def test_bad_handles_and_unknown_networks_are_refused(
    people: Any, links: dict[str, str], code: str
) -> None:
    """Handles follow each network's rules; networks other than the known ones are refused."""
    ada = await people.member("ada")
    r = await ada.patch("/api/me", json={"links": links})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["field"].startswith("links.")
    assert (await ada.get("/api/me")).json()["links"] == {}


async def test_username_cannot_be_changed(people: Any) -> None:
    """Sending a username is refused and the username stays."""
    ada = await people.member("ada")
    r = await ada.patch("/api/me", json={"username": "countess"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "username"
    assert (await ada.get("/api/me")).json()["username"] == "ada"


@pytest.mark.parametrize(
    "body",
    [
        {"bio": 5},
        {"show_nominator": "perhaps"},
        {"links": ["twitter", "ada"]},
        {"links": {"twitter": 5}},
        {"display_name": "x" * 5000},
        {"links": {f"k{i}": "a" for i in range(11)}},
    ],
)
async def test_malformed_bodies_are_422(people: Any, body: dict[str, Any]) -> None:
    """Wrong types and oversized fields are refused by the schema, never a 500."""
    ada = await people.member("ada")
    r = await ada.patch("/api/me", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


async def test_waitlisted_people_can_edit_their_profile(people: Any) -> None:
    """Someone still on the waitlist already owns a profile they can fill in."""
    newcomer = await people.sign_in("new@example.org", username="newbie")
    r = await newcomer.patch("/api/me", json={"display_name": "New Person"})
    assert r.status_code == 200
    assert r.json()["status"] == "waitlisted"


async def test_editing_needs_a_session(client: Any) -> None:
    """Without a session the profile cannot be changed."""
    r = await client.patch("/api/me", json={"bio": "hi"})
    assert r.status_code == 401


async def test_hiding_the_nominator_hides_it_on_the_public_profile(people: Any) -> None:
    """show_nominator=false removes the "Nominated by" line that others see."""
    grace = await people.member("grace")
    link = (await grace.post("/api/invites", json={})).json()["link"]
    ada = await people.sign_in("ada@example.org", username="ada", invite=link.rsplit("/", 1)[1])
    shown = (await grace.get("/api/users/ada")).json()
    assert shown["nominated_by"]["username"] == "grace"
    await ada.patch("/api/me", json={"show_nominator": False})
    assert (await grace.get("/api/users/ada")).json()["nominated_by"] is None
