"""S3 the social graph over HTTP: follows, follower lists, blocks and suggestions."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from townhall.app import Container
from townhall.storage import users as user_store
from townhall.storage.models import ContactLink


async def follow(client: Any, username: str) -> dict[str, Any]:
    r = await client.put(f"/api/users/{username}/follow")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def block(client: Any, username: str) -> dict[str, Any]:
    r = await client.put(f"/api/users/{username}/block")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def names(client: Any, path: str, **params: Any) -> list[str]:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return [item["username"] for item in r.json()["items"]]


async def all_pages(client: Any, path: str, limit: int) -> tuple[list[str], int]:
    """Every username of a paginated list, and how many pages it took."""
    found: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert len(body["items"]) <= limit
        found += [item["username"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found, pages


async def add_contact(container: Container, owner: str, contact: str) -> None:
    """What the contact-upload feature writes when a member's contact is matched."""
    async with container.db.transaction() as tx:
        a = await user_store.by_username(tx, owner)
        b = await user_store.by_username(tx, contact)
        assert a is not None and b is not None
        tx.add(ContactLink(owner_id=a.id, contact_id=b.id, created_at=container.clock.now()))


# --- follow and unfollow --------------------------------------------------------------------


async def test_follow_is_idempotent_and_counted_once(people: Any) -> None:
    """Following twice leaves one follow; the profile counts it on both sides."""
    ada = await people.member("ada")
    await people.member("bob")
    first = await follow(ada, "bob")
    assert first == {
        "username": "bob",
        "you_follow": True,
        "follows_you": False,
        "you_blocked": False,
    }
    assert await follow(ada, "Bob") == first
    bob = (await ada.get("/api/users/bob")).json()
    assert bob["followers_count"] == 1
    assert bob["you_follow"] is True
    assert (await ada.get("/api/users/ada")).json()["following_count"] == 1


async def test_unfollow_is_idempotent(people: Any) -> None:
    """Unfollowing ends the follow, and unfollowing again is still a success."""
    ada = await people.member("ada")
    await people.member("bob")
    await follow(ada, "bob")
    for _ in range(2):
        r = await ada.delete("/api/users/bob/follow")
        assert r.status_code == 200, r.text
        assert r.json()["you_follow"] is False
    assert (await ada.get("/api/users/bob")).json()["followers_count"] == 0


async def test_cannot_follow_self(people: Any) -> None:
    """Following yourself is refused with a clear code."""
    ada = await people.member("ada")
    r = await ada.put("/api/users/ADA/follow")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "cannot_follow_self"


async def test_follow_unknown_person(people: Any) -> None:
    """Following or unfollowing someone who does not exist is a 404."""
    ada = await people.member("ada")
    for method in (ada.put, ada.delete):
        r = await method("/api/users/nobody_here/follow")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "user_not_found"


async def test_waitlisted_people_cannot_follow(people: Any) -> None:
    """Only members follow; someone on the waitlist gets not_a_member."""
    await people.member("ada")
    waiting = await people.sign_in("wait@example.org", username="waiting")
    for method in (waiting.put, waiting.delete):
        r = await method("/api/users/ada/follow")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "not_a_member"


async def test_members_may_follow_waitlisted_people(people: Any) -> None:
    """A member can follow someone still on the waitlist, ready for when they join."""
    ada = await people.member("ada")
    await people.sign_in("wait@example.org", username="waiting")
    assert (await follow(ada, "waiting"))["you_follow"] is True


async def test_follow_needs_sign_in(client: Any, people: Any) -> None:
    """Anonymous visitors cannot follow anyone."""
    await people.member("ada")
    r = await client.put("/api/users/ada/follow")
    assert r.status_code == 401


@pytest.mark.settings(limit_follows_per_user="2/3600")
async def test_follows_are_rate_limited(people: Any) -> None:
    """Past the configured follows per window, following answers 429 with Retry-After."""
    ada = await people.member("ada")
    for name in ("bob", "cat", "dan"):
        await people.member(name)
    await follow(ada, "bob")
    await follow(ada, "cat")
    r = await ada.put("/api/users/dan/follow")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0
    people.clock.advance(seconds=3601)
    await follow(ada, "dan")


# --- followers and following ----------------------------------------------------------------


async def test_followers_and_following_newest_first(people: Any) -> None:
    """Both lists are ordered by when the follow was made, newest first."""
    ada = await people.member("ada")
    clients = {name: await people.member(name) for name in ("bob", "cat", "dan")}
    for name in ("bob", "cat", "dan"):
        await follow(clients[name], "ada")
        people.clock.advance(seconds=5)
    for name in ("dan", "bob"):
        await follow(ada, name)
        people.clock.advance(seconds=5)
    assert await names(ada, "/api/users/ada/followers") == ["dan", "cat", "bob"]
    assert await names(ada, "/api/users/ada/following") == ["bob", "dan"]
    r = await ada.get("/api/users/ada/followers")
    items = {i["username"]: i for i in r.json()["items"]}
    assert items["dan"]["you_follow"] is True
    assert items["cat"]["you_follow"] is False
    assert items["cat"]["since"] < items["dan"]["since"]
    assert r.json()["next_cursor"] is None


async def test_lists_paginate_without_gaps_or_repeats(people: Any) -> None:
    """Keyset pages cover the whole list exactly once, even when follows share a time."""
    ada = await people.member("ada")
    names_made = [f"fan{i}" for i in range(7)]
    fans = [await people.member(name) for name in names_made]
    for i, fan in enumerate(fans):
        await follow(fan, "ada")
        if i % 3 == 0:
            people.clock.advance(seconds=1)
    everyone, pages = await all_pages(ada, "/api/users/ada/followers", limit=2)
    assert sorted(everyone) == sorted(names_made)
    assert pages == 4
    one_page, _ = await all_pages(ada, "/api/users/ada/followers", limit=100)
    assert one_page == everyone


async def test_exact_last_page_has_no_next_cursor(people: Any) -> None:
    """When the items end exactly at a page boundary, that page already says it is last."""
    ada = await people.member("ada")
    for name in ("bob", "cat"):
        await follow(await people.member(name), "ada")
    r = await ada.get("/api/users/ada/followers", params={"limit": 2})
    assert len(r.json()["items"]) == 2
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(json.dumps(["x", 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([{"dt": "2026-01-01T00:00:00"}, 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([{"dt": "2026-01-01T00:00:00+00:00"}, 2**70]).encode())
        .decode()
        .rstrip("="),
        base64.urlsafe_b64encode(json.dumps([{"dt": "2026-01-01T00:00:00+00:00"}, True]).encode())
        .decode()
        .rstrip("="),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_malformed_cursor_is_refused(people: Any, cursor: str) -> None:
    """A cursor that was not handed out by the server is a 400 invalid_cursor."""
    ada = await people.member("ada")
    for path in ("/api/users/ada/followers", "/api/users/ada/following", "/api/me/blocks"):
        r = await ada.get(path, params={"cursor": cursor})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["not a cursor!", "%%%", "A" * 600, "", "W10==="])
async def test_a_cursor_not_of_the_documented_form_is_invalid_input(
    people: Any, cursor: str
) -> None:
    """The document gives a cursor's form (1 to 512 base64url characters): anything else is
    refused by the schema, 422 invalid_input naming the cursor."""
    ada = await people.member("ada")
    r = await ada.get("/api/users/ada/followers", params={"cursor": cursor})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "many"])
async def test_list_limit_is_bounded(people: Any, limit: str) -> None:
    """The page size is 1 to 100; anything else is a validation error."""
    ada = await people.member("ada")
    r = await ada.get("/api/users/ada/followers", params={"limit": limit})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


async def test_lists_need_sign_in_and_a_known_person(client: Any, people: Any) -> None:
    """Visitors cannot read follower lists; an unknown name is a 404."""
    ada = await people.member("ada")
    assert (await client.get("/api/users/ada/followers")).status_code == 401
    r = await ada.get("/api/users/ghost/following")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "user_not_found"


async def test_waitlisted_people_cannot_read_lists(people: Any) -> None:
    """Reading the graph's lists is for members (docs/security.md, item 7)."""
    ada = await people.member("ada")
    await follow(await people.member("bob"), "ada")
    waiting = await people.sign_in("wait@example.org", username="waiting")
    r = await waiting.get("/api/users/ada/followers")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    assert await names(ada, "/api/users/ada/followers") == ["bob"]


# --- blocks ---------------------------------------------------------------------------------


async def test_block_ends_follows_both_ways(people: Any) -> None:
    """Blocking removes the follow in each direction at once."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await follow(ada, "bob")
    await follow(bob, "ada")
    assert await block(ada, "bob") == {
        "username": "bob",
        "you_follow": False,
        "follows_you": False,
        "you_blocked": True,
    }
    profile = (await ada.get("/api/users/ada")).json()
    assert profile["followers_count"] == 0
    assert profile["following_count"] == 0


async def test_no_follow_across_a_block(people: Any) -> None:
    """Neither the blocker nor the blocked person can follow the other."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await block(ada, "bob")
    for client, target in ((ada, "bob"), (bob, "ada")):
        r = await client.put(f"/api/users/{target}/follow")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "blocked"


async def test_block_is_idempotent_and_unblock_does_not_restore_follows(people: Any) -> None:
    """Blocking twice is fine; unblocking lifts the block but old follows stay ended."""
    ada = await people.member("ada")
    await people.member("bob")
    await follow(ada, "bob")
    await block(ada, "bob")
    await block(ada, "bob")
    for _ in range(2):
        r = await ada.delete("/api/users/bob/block")
        assert r.status_code == 200, r.text
        assert r.json()["you_blocked"] is False
        assert r.json()["you_follow"] is False
    assert (await follow(ada, "bob"))["you_follow"] is True


async def test_block_errors(people: Any) -> None:
    """Blocking yourself or nobody is refused with a clear code."""
    ada = await people.member("ada")
    r = await ada.put("/api/users/ada/block")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "cannot_block_self"
    for method in (ada.put, ada.delete):
        r = await method("/api/users/ghost/block")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "user_not_found"


async def test_waitlisted_people_can_block(people: Any) -> None:
    """Blocking is a safety tool, so it does not wait for membership."""
    await people.member("ada")
    waiting = await people.sign_in("wait@example.org", username="waiting")
    assert (await block(waiting, "ada"))["you_blocked"] is True


async def test_blocked_person_can_block_back(people: Any) -> None:
    """Someone who was blocked can still block the blocker; both blocks stand."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await block(ada, "bob")
    assert (await block(bob, "ada"))["you_blocked"] is True
    assert await names(ada, "/api/me/blocks") == ["bob"]
    assert await names(bob, "/api/me/blocks") == ["ada"]


async def test_my_blocks_newest_first_and_paginated(people: Any) -> None:
    """The blocks list shows whom I blocked, newest first, one page at a time."""
    ada = await people.member("ada")
    for name in ("bob", "cat", "dan"):
        await people.member(name)
    for name in ("cat", "bob", "dan"):
        await block(ada, name)
        people.clock.advance(seconds=2)
    everyone, pages = await all_pages(ada, "/api/me/blocks", limit=2)
    assert everyone == ["dan", "bob", "cat"]
    assert pages == 2
    await ada.delete("/api/users/bob/block")
    assert await names(ada, "/api/me/blocks") == ["dan", "cat"]


async def test_blocked_people_vanish_from_lists_either_way(people: Any) -> None:
    """Follower and following lists leave out anyone with a block either way with the viewer."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    cat = await people.member("cat")
    dan = await people.member("dan")
    for client in (ada, bob, dan):
        await follow(client, "cat")
    await follow(cat, "bob")
    await follow(cat, "dan")
    await block(ada, "bob")
    await block(dan, "ada")
    assert await names(ada, "/api/users/cat/followers") == ["ada"]
    assert await names(ada, "/api/users/cat/following") == []
    assert sorted(await names(cat, "/api/users/cat/followers")) == ["ada", "bob", "dan"]
    assert await names(bob, "/api/users/cat/followers") == ["dan", "bob"]


async def test_blocker_lists_are_hidden_from_the_blocked(people: Any) -> None:
    """The person who was blocked cannot read the blocker's lists; the blocker can read theirs."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await block(ada, "bob")
    for path in ("/api/users/ada/followers", "/api/users/ada/following"):
        r = await bob.get(path)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "user_not_found"
    assert (await ada.get("/api/users/bob/followers")).status_code == 200


# --- suggestions ----------------------------------------------------------------------------


async def test_suggestions_contacts_then_friends_of_friends(people: Any, container: Any) -> None:
    """Contacts who are members come first, then people your follows follow, most shared first."""
    me = await people.member("mel")
    friends = {n: await people.member(n) for n in ("fr1", "fr2", "fr3", "fr4")}
    for name in ("pop", "niche", "buddy"):
        await people.member(name)
    await add_contact(container, "mel", "buddy")
    for name in friends:
        await follow(me, name)
    for name in ("fr1", "fr2", "fr3", "fr4"):
        await follow(friends[name], "pop")
        people.clock.advance(seconds=1)
    await follow(friends["fr1"], "niche")
    await follow(friends["fr2"], "buddy")
    r = await me.get("/api/me/suggestions")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["username"] for i in items] == ["buddy", "pop", "niche"]
    buddy, pop, niche = items
    assert buddy["reason"] == "contact"
    assert buddy["followed_by"] == ["fr2"]
    assert pop["reason"] == "followed_by"
    assert pop["followed_by"] == ["fr4", "fr3", "fr2"]
    assert pop["followed_by_count"] == 4
    assert niche["followed_by"] == ["fr1"]
    assert niche["followed_by_count"] == 1
    assert all(i["you_follow"] is False for i in items)


async def test_suggestions_leave_out_follows_self_blocks_and_waitlist(
    people: Any, container: Any
) -> None:
    """No one you follow, not you, no block either way, and only members."""
    me = await people.member("mel")
    others = {n: await people.member(n) for n in ("friend", "known", "rude", "shunned", "fine")}
    await people.sign_in("w@example.org", username="waiting")
    await follow(me, "friend")
    await follow(me, "known")
    for name in ("mel", "known", "rude", "shunned", "fine", "waiting"):
        await follow(others["friend"], name)
    for name in ("waiting", "known", "mel"):
        await add_contact(container, "mel", name)
    await block(others["rude"], "mel")
    await block(me, "shunned")
    assert await names(me, "/api/me/suggestions") == ["fine"]


async def test_suggestions_limit_and_membership(people: Any, container: Any) -> None:
    """The limit caps contacts and friends of friends together; waitlisted people get 403."""
    me = await people.member("mel")
    for name in ("co1", "co2", "co3"):
        await people.member(name)
        await add_contact(container, "mel", name)
        people.clock.advance(seconds=1)
    assert await names(me, "/api/me/suggestions", limit=2) == ["co3", "co2"]
    assert (await me.get("/api/me/suggestions", params={"limit": 51})).status_code == 422
    waiting = await people.sign_in("w@example.org", username="waiting")
    r = await waiting.get("/api/me/suggestions")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_a_member"


async def test_follows_racing_a_block_never_survive_it(people: Any) -> None:
    """Follows sent at the same time as a block either fail or are removed by it."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    requests = [ada.put("/api/users/bob/follow") for _ in range(5)]
    requests += [bob.put("/api/users/ada/block")]
    requests += [bob.put("/api/users/ada/follow") for _ in range(5)]
    replies = await asyncio.gather(*requests)
    assert all(r.status_code in (200, 403) for r in replies), [r.text for r in replies]
    profile = (await ada.get("/api/users/ada")).json()
    assert (profile["followers_count"], profile["following_count"]) == (0, 0)
