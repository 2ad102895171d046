"""S1/S3 public profiles over HTTP: fields, nominator line, viewer relationship, blocks."""

from __future__ import annotations

from typing import Any

import pytest

from townhall.app import Container
from townhall.storage import users as user_store


async def edit_person(container: Container, username: str, **fields: Any) -> None:
    """Set profile fields as the owner's profile editor would."""
    async with container.db.transaction() as tx:
        user = await user_store.by_username(tx, username)
        assert user is not None
        for name, value in fields.items():
            setattr(user, name, value)


async def invited_member(people: Any, inviter: Any, username: str) -> Any:
    """A newcomer who joins through ``inviter``'s invite link, so ``inviter`` nominated them."""
    r = await inviter.post("/api/invites", json={})
    assert r.status_code == 201, r.text
    token = r.json()["link"].rsplit("/", 1)[1]
    return await people.sign_in(f"{username}@example.org", username=username, invite=token)


async def test_profile_shows_public_fields(people: Any, container: Container) -> None:
    """A member's profile: names, bio, links, counts, join date and nominator, nothing private."""
    ada = await people.member("ada")
    grace = await invited_member(people, ada, "grace")
    await edit_person(
        container,
        "grace",
        display_name="Grace Hopper",
        bio="Compilers.",
        links={"twitter": "grace"},
    )
    await grace.put("/api/users/ada/follow")
    r = await ada.get("/api/users/Grace")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["username"] == "grace"
    assert body["display_name"] == "Grace Hopper"
    assert body["bio"] == "Compilers."
    assert body["links"] == {"twitter": "grace"}
    assert body["avatar_url"] is None
    assert body["status"] == "member"
    assert body["followers_count"] == 0
    assert body["following_count"] == 1
    assert body["joined_at"].startswith("2026-03-01")
    assert body["nominated_by"] == {"username": "ada", "display_name": "", "avatar_url": None}
    assert body["follows_you"] is True
    assert body["you_follow"] is False
    assert body["you_blocked"] is False
    assert "email" not in body


async def test_owner_can_hide_the_nominator(people: Any, container: Container) -> None:
    """With show_nominator off, nobody sees who let the person in."""
    ada = await people.member("ada")
    await invited_member(people, ada, "grace")
    await edit_person(container, "grace", show_nominator=False)
    assert (await ada.get("/api/users/grace")).json()["nominated_by"] is None


async def test_visitors_see_profiles_without_relationship(
    people: Any, client: Any, container: Container
) -> None:
    """Profiles are public like share links; a visitor gets null relationship fields."""
    ada = await people.member("ada")
    await invited_member(people, ada, "grace")
    r = await client.get("/api/users/@grace")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["username"] == "grace"
    assert body["nominated_by"]["username"] == "ada"
    assert body["follows_you"] is None
    assert body["you_follow"] is None
    assert body["you_blocked"] is None


async def test_stale_session_is_not_treated_as_a_visitor(people: Any, client: Any) -> None:
    """A bad token on a public profile is a 401, so clients notice they were signed out."""
    await people.member("ada")
    r = await client.get("/api/users/ada", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    client.cookies.set("townhall_session", "nope")
    assert (await client.get("/api/users/ada")).status_code == 401


async def test_waitlisted_profile_is_marked(people: Any) -> None:
    """Someone on the waitlist sees their own profile, and staff see it, with status
    waitlisted and no join date; members do not (docs/security.md, item 7)."""
    ada = await people.member("ada")
    root = await people.admin()
    waiting = await people.sign_in("wait@example.org", username="waiting")
    assert (await ada.get("/api/users/waiting")).status_code == 404
    body = (await root.get("/api/users/waiting")).json()
    assert body["status"] == "waitlisted"
    assert body["joined_at"] is None
    assert body["nominated_by"] is None
    own = (await waiting.get("/api/users/waiting")).json()
    assert own["you_follow"] is False and own["follows_you"] is False


async def test_relationship_fields(people: Any) -> None:
    """follows_you and you_follow describe each direction separately."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await ada.put("/api/users/bob/follow")
    seen_by_ada = (await ada.get("/api/users/bob")).json()
    seen_by_bob = (await bob.get("/api/users/ada")).json()
    assert (seen_by_ada["you_follow"], seen_by_ada["follows_you"]) == (True, False)
    assert (seen_by_bob["you_follow"], seen_by_bob["follows_you"]) == (False, True)
    assert seen_by_ada["followers_count"] == 1


@pytest.mark.parametrize("name", ["ghost", "a", "no%20such", "%00", "x" * 64, "bad-name", "ünï"])
async def test_unknown_or_impossible_names_are_not_found(people: Any, name: str) -> None:
    """Any name that is not a person's is a 404 user_not_found, never a crash."""
    ada = await people.member("ada")
    r = await ada.get(f"/api/users/{name}")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "user_not_found"


async def test_overlong_name_is_a_validation_error(people: Any) -> None:
    """A path segment longer than any username could be is refused before any lookup."""
    ada = await people.member("ada")
    r = await ada.get("/api/users/" + "x" * 65)
    assert r.status_code == 422


async def test_blocker_profile_is_hidden_from_the_blocked(people: Any) -> None:
    """The person who was blocked is told the blocker does not exist; the blocker still sees
    the blocked profile, marked, so they can unblock."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await ada.put("/api/users/bob/block")
    r = await bob.get("/api/users/ada")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "user_not_found"
    seen = (await ada.get("/api/users/bob")).json()
    assert seen["you_blocked"] is True
    await ada.delete("/api/users/bob/block")
    assert (await bob.get("/api/users/ada")).status_code == 200


async def test_nominator_hidden_across_a_block(people: Any) -> None:
    """The nominator line does not show someone the viewer blocked or who blocked the viewer."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cat = await people.member("cat")
    await invited_member(people, ada, "grace")
    await ada.put("/api/users/bob/block")
    await cat.put("/api/users/ada/block")
    assert (await bob.get("/api/users/grace")).json()["nominated_by"] is None
    assert (await cat.get("/api/users/grace")).json()["nominated_by"] is None
    assert (await ada.get("/api/users/grace")).json()["nominated_by"]["username"] == "ada"
