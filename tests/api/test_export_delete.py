"""S1 data export and account deletion over HTTP, and what deletion leaves behind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, or_, select

from tests.api.clubkit import found
from tests.api.roomkit import create, events, follow, join, ok, snap
from tests.api.test_events import schedule
from tests.api.test_ws import base, close_code, open_socket  # noqa: F401 (fixtures)
from townhall.storage import users as user_store
from townhall.storage.models import (
    AuditEntry,
    Block,
    ContactLink,
    Follow,
    Invite,
    Session,
    SignInCode,
    User,
)


@dataclass
class World:
    """Ada, nominated by Grace, with follows, a block, contacts, invites and an avatar."""

    ada: Any
    grace: Any
    bob: Any
    ada_id: int
    tokens: list[str]


async def user_id(container: Any, username: str) -> int:
    async with container.db.transaction() as tx:
        user = await user_store.by_username(tx, username)
        assert user is not None
        return int(user.id)


async def build_world(people: Any, container: Any) -> World:
    grace = await people.member("grace")
    link = (await grace.post("/api/invites", json={})).json()["link"]
    ada = await people.sign_in("ada@example.org", username="ada", invite=link.rsplit("/", 1)[1])
    laptop = await people.sign_in("ada@example.org")
    await people.member("mallory")
    await people.sign_in("carol@example.org", username="carol")  # on the waitlist
    await people.member("dave")
    await ada.patch("/api/me", json={"display_name": "Ada", "links": {"twitter": "ada"}})
    png = BytesIO()
    Image.new("RGB", (16, 16)).save(png, "PNG")
    assert (
        await ada.put("/api/me/avatar", files={"file": ("a.png", png.getvalue(), "image/png")})
    ).status_code == 200
    assert (await ada.put("/api/users/grace/follow")).status_code == 200
    assert (await grace.put("/api/users/ada/follow")).status_code == 200
    assert (await ada.put("/api/users/mallory/block")).status_code == 200
    mailed = await ada.post("/api/invites", json={"email": "friend@example.org"})
    assert mailed.status_code == 201
    bob_link = (await ada.post("/api/invites", json={})).json()["link"]
    bob = await people.sign_in("bob@example.org", username="bob", invite=bob_link.rsplit("/", 1)[1])
    ids = {name: await user_id(container, name) for name in ("ada", "carol", "dave")}
    async with container.db.transaction() as tx:
        now = container.clock.now()
        tx.add(ContactLink(owner_id=ids["ada"], contact_id=ids["carol"], created_at=now))
        tx.add(ContactLink(owner_id=ids["dave"], contact_id=ids["ada"], created_at=now))
    tokens = [c.headers["Authorization"].split()[1] for c in (ada, laptop)]
    return World(ada, grace, bob, ids["ada"], tokens)


async def test_export_holds_all_of_my_data_as_a_download(people: Any, container: Any) -> None:
    """The export is a JSON attachment with account, sessions, graph, invites and contacts."""
    w = await build_world(people, container)
    r = await w.ada.get("/api/me/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == 'attachment; filename="townhall-ada-2026-03-01.json"'
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["format"] == "townhall-export/1"
    account = data["account"]
    assert (account["username"], account["email"], account["display_name"]) == (
        "ada",
        "ada@example.org",
        "Ada",
    )
    assert account["links"] == {"twitter": "ada"}
    assert account["avatar_url"].startswith("/files/")
    assert data["nominated_by"]["username"] == "grace"
    assert len(data["sessions"]) == 2
    assert [s["current"] for s in data["sessions"]].count(True) == 1
    assert [p["username"] for p in data["following"]] == ["grace"]
    # bob, who joined with ada's invite, follows her from the start (docs/invitations.md).
    assert [p["username"] for p in data["followers"]] == ["grace", "bob"]
    assert [p["username"] for p in data["blocked"]] == ["mallory"]
    # Dave's address book holds Ada: that is Dave's data, not hers.
    assert [p["username"] for p in data["contacts"]] == ["carol"]
    invites = {(i["email"], i["status"], i["used_by"]) for i in data["invites_sent"]}
    assert invites == {("friend@example.org", "pending", None), (None, "used", "bob")}


async def test_export_never_contains_secrets(people: Any, container: Any) -> None:
    """No session token, token hash or invite hash appears anywhere in the export."""
    w = await build_world(people, container)
    text = (await w.ada.get("/api/me/export")).text
    async with container.db.transaction() as tx:
        hashes = list(
            (await tx.execute(select(Session.token_hash).where(Session.user_id == w.ada_id)))
            .scalars()
            .all()
        )
        hashes += (
            (await tx.execute(select(Invite.token_hash).where(Invite.inviter_id == w.ada_id)))
            .scalars()
            .all()
        )
    assert len(hashes) == 4
    for secret in [*hashes, *w.tokens]:
        assert secret not in text
    assert "token_hash" not in text and "/invite/" not in text


@pytest.mark.settings(limit_exports_per_user="1/3600")
async def test_exports_are_rate_limited(people: Any) -> None:
    """An export reads a lot, so a person can only ask for a few an hour."""
    ada = await people.member("ada")
    assert (await ada.get("/api/me/export")).status_code == 200
    r = await ada.get("/api/me/export")
    assert r.status_code == 429
    assert "Retry-After" in r.headers


async def test_export_needs_a_session(client: Any) -> None:
    """Visitors get a 401, not somebody's data."""
    assert (await client.get("/api/me/export")).status_code == 401


@pytest.mark.parametrize("confirm", ["grace", "ad", "", "ada_"])
async def test_wrong_confirmation_deletes_nothing(people: Any, confirm: str) -> None:
    """Deletion needs the person's own username typed again; anything else is refused."""
    ada = await people.member("ada")
    r = await ada.request("DELETE", "/api/me", json={"confirm": confirm})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "confirmation_mismatch"
    assert (await ada.get("/api/me")).status_code == 200


async def test_deletion_needs_a_body(people: Any) -> None:
    """A bare DELETE is refused by the schema, so a stray click deletes nothing."""
    ada = await people.member("ada")
    assert (await ada.delete("/api/me")).status_code == 422
    assert (await ada.get("/api/me")).status_code == 200


async def test_deleting_removes_everything_that_was_only_mine(
    people: Any, container: Any, mailbox: Any
) -> None:
    """Sessions, follows, blocks, contacts, invites, codes and the avatar file all go."""
    w = await build_world(people, container)
    avatar = (await w.ada.get("/api/me")).json()["avatar_url"]
    people.clock.advance(seconds=31)
    await w.ada.post("/api/auth/code", json={"email": "ada@example.org"})
    r = await w.ada.request("DELETE", "/api/me", json={"confirm": "@Ada"})
    assert r.status_code == 200, r.text
    for token in w.tokens:
        gone = await w.grace.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401
    assert (await w.grace.get(avatar)).status_code == 404
    assert list(container.files.root.iterdir()) == []
    uid = w.ada_id
    async with container.db.transaction() as tx:

        async def count(model: Any, *where: Any) -> int:
            query = select(func.count()).select_from(model).where(or_(*where))
            return int((await tx.execute(query)).scalar_one())

        assert await count(User, User.id == uid) == 0
        assert await count(Session, Session.user_id == uid) == 0
        assert await count(Follow, Follow.follower_id == uid, Follow.followee_id == uid) == 0
        assert await count(Block, Block.blocker_id == uid, Block.blocked_id == uid) == 0
        assert (
            await count(ContactLink, ContactLink.owner_id == uid, ContactLink.contact_id == uid)
            == 0
        )
        assert await count(Invite, Invite.inviter_id == uid, Invite.used_by_id == uid) == 0
        assert await count(SignInCode, SignInCode.email == "ada@example.org") == 0
    grace = (await w.grace.get("/api/users/grace")).json()
    assert (grace["followers_count"], grace["following_count"]) == (0, 0)


async def test_deletion_is_audited_without_personal_data(people: Any, container: Any) -> None:
    """The audit log records that an account deleted itself, by id only."""
    ada = await people.member("ada")
    uid = await user_id(container, "ada")
    await ada.request("DELETE", "/api/me", json={"confirm": "ada"})
    async with container.db.transaction() as tx:
        entries = list((await tx.execute(select(AuditEntry))).scalars())
    assert [(e.actor, e.action, e.target, e.actor_id) for e in entries] == [
        ("self", "account_deleted", f"user:{uid}", None)
    ]
    assert entries[0].created_at == container.clock.now()
    assert "ada" not in repr(entries[0].data)


async def test_people_i_nominated_stay_members(people: Any, container: Any) -> None:
    """Bob, who joined with Ada's invite, keeps his membership; his nominator becomes empty."""
    w = await build_world(people, container)
    assert (await w.grace.get("/api/users/bob")).json()["nominated_by"]["username"] == "ada"
    await w.ada.request("DELETE", "/api/me", json={"confirm": "ada"})
    bob = (await w.bob.get("/api/me")).json()
    assert bob["status"] == "member"
    assert (await w.grace.get("/api/users/bob")).json()["nominated_by"] is None
    mine = (await w.grace.get("/api/invites")).json()["invites"]
    assert [i["status"] for i in mine] == ["used"]


async def test_username_and_email_are_free_again(people: Any, client: Any, mailbox: Any) -> None:
    """After deletion the same address can sign up afresh and take the same username."""
    ada = await people.member("ada")
    await ada.request("DELETE", "/api/me", json={"confirm": "ada"})
    again = await people.sign_in("ada@example.org", username="ada")
    me = (await again.get("/api/me")).json()
    assert (me["username"], me["status"]) == ("ada", "waitlisted")


async def test_deleting_twice_is_a_401(people: Any) -> None:
    """Once deleted, the session that asked is gone too."""
    ada = await people.member("ada")
    assert (await ada.request("DELETE", "/api/me", json={"confirm": "ada"})).status_code == 200
    r = await ada.request("DELETE", "/api/me", json={"confirm": "ada"})
    assert r.status_code == 401


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_export_holds_clubs_events_notifications_and_topics(people: Any) -> None:
    """What the later areas keep about a person is in the export too."""
    ada, bob = await people.member("ada"), await people.member("bob")
    await found(ada, "Night Owls")
    await schedule(ada, name="Owl talk")
    await follow(ada, "bob")
    rid = (await create(bob, title="Moonlight jazz"))["id"]  # ada is told
    await join(ada, rid)
    r = await ada.patch("/api/notifications/settings", json={"fewer": True})
    assert r.status_code == 200, r.text
    data = (await ada.get("/api/me/export")).json()
    assert [(c["club"], c["role"]) for c in data["clubs"]] == [("Night Owls", "founder")]
    assert [(e["event"], e["tie"]) for e in data["events"]] == [("Owl talk", "host")]
    assert [n["kind"] for n in data["notifications"]] == ["room.started"]
    assert data["notification_settings"]["fewer"] is True
    assert {"moonlight", "jazz"} <= set(data["hallway_topics"])


# --- deleting goes through the rooms' rules and leaves no name behind ----------------------


async def test_a_moderator_who_deletes_their_account_leaves_their_room_by_its_rules(
    people: Any,
    container: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """The room sees member.left, their socket closes with 4401, and the room left without
    a moderator ends after the grace period; its log no longer names them."""
    mona, lee = await people.member("mona"), await people.member("lee")
    await mona.patch("/api/me", json={"display_name": "Mona Lisa"})
    mona_ws, lee_ws = await open_socket(mona), await open_socket(lee)
    rid = (await mona_ws.ok("room.create", title="Night talk"))["snapshot"]["id"]
    await lee_ws.ok("room.join", room=rid)
    await ok(mona, rid, "invite_to_speak", target="lee")  # names mona in "by"
    await ok(lee, rid, "accept_speak")
    await lee_ws.event("member.updated")
    r = await mona.request("DELETE", "/api/me", json={"confirm": "mona"})
    assert r.status_code == 200, r.text
    assert (await lee_ws.event("member.left"))["data"] == {"username": "mona", "reason": "left"}
    assert await close_code(mona_ws.ws) == 4401
    log = await events(lee, rid)
    text = json.dumps(log)
    assert '"mona"' not in text and "Mona Lisa" not in text
    # One name stands for her in every event, so the log still pairs her join and leave.
    hers = {
        e["data"]["username"]
        for e in log
        if e["name"] in ("member.joined", "member.left") and e["data"]["username"] != "lee"
    }
    (alias,) = hers
    assert alias.startswith("deleted-")
    assert [e["data"]["by"] for e in log if e["name"] == "speak.invited"] == [alias]

    grace = container.settings.room_moderator_grace_seconds
    people.clock.advance(seconds=grace - 1)
    await join(lee, rid)  # lee is alive
    await container.rooms.sweep()
    assert (await snap(lee, rid))["status"] == "live"
    people.clock.advance(seconds=2)
    await join(lee, rid)
    await container.rooms.sweep()
    assert (await lee_ws.event("room.ended"))["data"] == {"reason": "no_moderator"}
    assert (await snap(lee, rid))["status"] == "ended"


async def test_deleting_the_account_of_someone_alone_in_a_room_ends_it(people: Any) -> None:
    """Alone in a room, they leave it as leaving does: the room ends at once, empty."""
    ada, bob = await people.member("ada"), await people.member("bob")
    rid = (await create(ada, title="Solo"))["id"]
    assert (await ada.request("DELETE", "/api/me", json={"confirm": "ada"})).status_code == 200
    room = await snap(bob, rid)
    assert room["status"] == "ended"
    log = await events(bob, rid)
    assert [e["name"] for e in log][-2:] == ["member.left", "room.ended"]
    assert log[-1]["data"] == {"reason": "empty"}
    assert '"ada"' not in json.dumps(log)


async def test_other_peoples_notifications_no_longer_name_the_deleted_person(
    people: Any,
) -> None:
    """What they caused goes; what others caused keeps its news without their name."""
    ada, bob, cyd = [await people.member(n) for n in ("ada", "bob", "cyd")]
    await follow(cyd, "bob")
    await follow(ada, "cyd")  # cyd is told that ada follows her
    await schedule(bob, name="Duo night", cohosts=["ada"])  # cyd is told: hosts bob, ada
    before = (await cyd.get("/api/notifications")).json()["items"]
    assert {n["name"] for n in before} == {"user.followed", "event.scheduled"}
    assert (await ada.request("DELETE", "/api/me", json={"confirm": "ada"})).status_code == 200
    after = (await cyd.get("/api/notifications")).json()["items"]
    assert [n["name"] for n in after] == ["event.scheduled"]
    assert after[0]["data"]["hosts"] == ["bob"]
    assert '"ada"' not in json.dumps(after)
