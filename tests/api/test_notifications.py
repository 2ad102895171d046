"""S9 notifications over HTTP: what creates them, who is told, the inbox and the settings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.clubkit import found, give_role
from tests.api.roomkit import block, create, follow, join, ok
from townhall.domain.happenings import Happening, Recipients
from townhall.security import email_hash


async def inbox(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/notifications", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def names(client: httpx.AsyncClient) -> list[str]:
    return [n["name"] for n in (await inbox(client, limit=100))["items"]]


async def unread(client: httpx.AsyncClient) -> int:
    r = await client.get("/api/notifications/unread")
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


async def settings(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.patch("/api/notifications/settings", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def user_id(container: Any, username: str) -> int:
    from townhall.storage import users

    async with container.db.transaction() as tx:
        user = await users.by_username(tx, username)
    assert user is not None
    return int(user.id)


async def test_followers_are_told_when_someone_starts_an_open_room(people: Any) -> None:
    """Followers get room.started with the actor and a link; others and the host do not."""
    host, ann, bob = [await people.member(n) for n in ("host", "ann", "bob")]
    await follow(ann, "host")
    room = await create(host, title="Morning news")

    [item] = (await inbox(ann))["items"]
    assert item["name"] == "room.started"
    assert item["actor"]["username"] == "host"
    assert item["data"]["room"] == room["id"]
    assert item["data"]["link"].endswith(f"/r/{room['id']}")
    assert item["read"] is False
    assert await unread(ann) == 1
    assert await names(bob) == []
    # host got user.followed from ann, never room.started about themselves
    assert await names(host) == ["user.followed"]


async def test_closed_rooms_are_not_announced(people: Any) -> None:
    """A closed room's start is told to nobody: its host's followers may not join it."""
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    await create(host, kind="closed")
    assert await names(ann) == []


async def test_a_new_follower_is_told_once(people: Any) -> None:
    """Following, unfollowing and following again tells the person once."""
    ann, bob = await people.member("ann"), await people.member("bob")
    await follow(bob, "ann")
    assert (await bob.delete("/api/users/ann/follow")).status_code == 200
    await follow(bob, "ann")
    items = (await inbox(ann))["items"]
    assert [(i["name"], i["actor"]["username"]) for i in items] == [("user.followed", "bob")]


async def test_going_on_stage_is_told_once_per_room(people: Any) -> None:
    """Followers of a listener who accepts to speak get room.speaking, once per room."""
    host, bob, ann = [await people.member(n) for n in ("host", "bob", "ann")]
    await follow(ann, "bob")
    room = (await create(host))["id"]
    await join(bob, room)
    for _ in range(2):
        await ok(host, room, "invite_to_speak", target="bob")
        await ok(bob, room, "accept_speak")
        await ok(bob, room, "step_down")
    items = [i for i in (await inbox(ann))["items"] if i["name"] == "room.speaking"]
    assert len(items) == 1
    assert items[0]["actor"]["username"] == "bob"
    assert items[0]["data"]["room"] == room


async def test_a_ping_is_kept_in_the_inbox(people: Any) -> None:
    """The pinged person finds room.pinged in their inbox, with the room and who pinged."""
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    room = (await create(host, kind="closed"))["id"]
    await ok(host, room, "ping", target="ann")
    [item] = (await inbox(ann))["items"]
    assert item["name"] == "room.pinged"
    assert item["actor"]["username"] == "host"
    assert item["data"]["room"] == room


async def test_the_inviter_is_told_when_their_invitee_joins(people: Any) -> None:
    """Signing up with a mailed invite tells the inviter (invitee.joined)."""
    alice = await people.member("alice")
    r = await alice.post("/api/invites", json={"email": "bob@example.org"})
    assert r.status_code == 201, r.text
    await people.sign_in("bob@example.org", username="bob")
    [item] = (await inbox(alice))["items"]
    assert item["name"] == "invitee.joined"
    assert item["actor"]["username"] == "bob"


async def test_sharing_contacts_tells_of_waitlisted_ones(people: Any) -> None:
    """Waitlisted people newly found in shared contacts are told in one notification."""
    await people.sign_in("wendy@example.org", username="wendy")  # lands on the waitlist
    ann = await people.member("ann")
    hashes = [email_hash("wendy@example.org")]
    for _ in range(2):
        r = await ann.put("/api/me/contacts", json={"hashes": hashes})
        assert r.status_code == 200, r.text
    [item] = (await inbox(ann))["items"]
    assert item["name"] == "contact.waitlisted"
    assert item["data"] == {"usernames": ["wendy"], "count": 1}


async def test_blocked_people_are_not_told_about_each_other(people: Any, container: Any) -> None:
    """Whoever blocked the actor, or was blocked by them, is left out of a notification."""
    host, ann, bob, carol = [await people.member(n) for n in ("host", "ann", "bob", "carol")]
    await block(ann, "host")
    await block(host, "bob")
    ids = [await user_id(container, n) for n in ("ann", "bob", "carol", "host")]
    invited = Happening(
        "club.invited", Recipients(users=tuple(ids)), actor_id=ids[3], data={"club": 1}
    )
    async with container.db.transaction() as tx:
        await container.happenings.record(tx, invited)
    assert await names(ann) == []
    assert await names(bob) == []
    assert await names(carol) == ["club.invited"]
    assert await names(host) == []


async def test_inbox_pages_newest_first_and_marks_read(people: Any) -> None:
    """The inbox pages by cursor, newest first; one or all items can be marked read."""
    ann = await people.member("ann")
    followers = [await people.member(f"fan{i}") for i in range(5)]
    for fan in followers:
        await follow(fan, "ann")
    first = await inbox(ann, limit=2)
    assert [i["actor"]["username"] for i in first["items"]] == ["fan4", "fan3"]
    second = await inbox(ann, limit=2, cursor=first["next_cursor"])
    third = await inbox(ann, limit=2, cursor=second["next_cursor"])
    assert [i["actor"]["username"] for i in second["items"] + third["items"]] == [
        "fan2",
        "fan1",
        "fan0",
    ]
    assert third["next_cursor"] is None
    assert await unread(ann) == 5

    r = await ann.post(f"/api/notifications/{first['items'][0]['id']}/read")
    assert r.status_code == 200, r.text
    assert await unread(ann) == 4
    assert (await inbox(ann, limit=1))["items"][0]["read"] is True
    r = await ann.post("/api/notifications/read")
    assert r.json() == {"marked": 4}
    assert await unread(ann) == 0


async def test_reading_a_notification_that_is_not_yours_is_not_found(people: Any) -> None:
    """Someone else's notification, or one that never existed, answers 404."""
    ann, bob = await people.member("ann"), await people.member("bob")
    await follow(bob, "ann")
    theirs = (await inbox(ann))["items"][0]["id"]
    for target in (theirs, 999999):
        r = await bob.post(f"/api/notifications/{target}/read")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "notification_not_found"
    r = await ann.get("/api/notifications", params={"cursor": "nonsense"})
    assert r.status_code == 400


async def test_kinds_turned_off_are_not_kept(people: Any) -> None:
    """A kind switched off is neither delivered nor kept; other kinds still are."""
    host, ann = await people.member("host"), await people.member("ann")
    body = await settings(ann, kinds={"room.started": False})
    assert body["kinds"]["room.started"] is False
    assert body["kinds"]["user.followed"] is True
    await follow(ann, "host")
    await create(host)
    await follow(host, "ann")
    assert await names(ann) == ["user.followed"]

    r = await ann.patch("/api/notifications/settings", json={"kinds": {"nope": False}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unknown_notification_kind"


async def test_fewer_notifications_keeps_only_the_important_kinds(people: Any) -> None:
    """With "fewer", a room start is dropped but a ping still arrives."""
    host, ann = await people.member("host"), await people.member("ann")
    assert (await settings(ann, fewer=True))["fewer"] is True
    await follow(ann, "host")
    room = (await create(host))["id"]
    await ok(host, room, "ping", target="ann")
    assert await names(ann) == ["room.pinged"]


async def test_pausing_keeps_notifications_in_the_inbox(people: Any) -> None:
    """While paused, notifications are kept (and counted unread); resuming clears the pause."""
    host, ann = await people.member("host"), await people.member("ann")
    paused = await settings(ann, pause_hours=2)
    assert paused["paused_until"] is not None
    await follow(ann, "host")
    await create(host)
    assert await names(ann) == ["room.started"]
    assert await unread(ann) == 1
    assert (await settings(ann, pause_hours=0))["paused_until"] is None
    r = await ann.patch("/api/notifications/settings", json={"pause_hours": 10000})
    assert r.status_code == 422


async def test_pause_ends_by_itself(people: Any) -> None:
    """A pause for N hours is over N hours later."""
    ann = await people.member("ann")
    await settings(ann, pause_hours=1)
    people.clock.advance(hours=1, seconds=1)
    r = await ann.get("/api/notifications/settings")
    assert r.json()["paused_until"] is None


@pytest.mark.settings(notification_hourly_cap=2)
async def test_the_hourly_cap_holds_the_rest_and_releases_one_summary(
    people: Any, container: Any
) -> None:
    """Beyond the cap notifications are held; after the hour the sweeper shows them with
    one summary notification saying how many."""
    ann = await people.member("ann")
    for i in range(4):
        fan = await people.member(f"fan{i}")
        await follow(fan, "ann")
    assert [i["actor"]["username"] for i in (await inbox(ann))["items"]] == ["fan1", "fan0"]
    assert await unread(ann) == 2

    await container.notifications.sweep()  # still within the hour: nothing released
    assert len((await inbox(ann))["items"]) == 2

    people.clock.advance(hours=1)
    await container.notifications.sweep()
    items = (await inbox(ann))["items"]
    assert items[0]["name"] == "summary"
    assert items[0]["data"] == {"count": 2, "kinds": {"user.followed": 2}}
    assert [i["actor"]["username"] for i in items[1:]] == ["fan3", "fan2", "fan1", "fan0"]
    assert await unread(ann) == 5
    await container.notifications.sweep()
    assert len((await inbox(ann))["items"]) == 5


async def test_a_personal_hourly_cap_overrides_the_default(people: Any) -> None:
    """Someone's own cap applies to them; the settings show it."""
    ann = await people.member("ann")
    assert (await settings(ann))["hourly_cap"] == 20
    assert (await settings(ann, hourly_cap=1))["hourly_cap"] == 1
    for i in range(2):
        await follow(await people.member(f"fan{i}"), "ann")
    assert len((await inbox(ann))["items"]) == 1


async def test_event_reminders_are_mailed_to_who_asked(people: Any, mailbox: Any) -> None:
    """Starting an event tells followers of the host in the app, and mails the people who
    asked to be reminded (unless they turned event.starting off)."""
    host, ann, bob, cat = [await people.member(n) for n in ("host", "ann", "bob", "cat")]
    await follow(bob, "host")
    r = await host.post(
        "/api/events",
        json={"name": "Jazz hour", "starts_at": "2026-03-01T13:30", "time_zone": "Europe/Paris"},
    )
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    for client in (ann, cat):
        assert (await client.put(f"/api/events/{event}/reminder")).status_code == 200
    await settings(cat, kinds={"event.starting": False})
    mailbox.clear()

    r = await host.post(f"/api/events/{event}/start")
    assert r.status_code == 201, r.text
    mail = mailbox.last_to("ann@example.org")
    assert mail["Subject"] == "Starting now: Jazz hour"
    assert mailbox.to("cat@example.org") == []
    assert mailbox.to("bob@example.org") == []
    assert await names(ann) == ["event.starting"]
    assert await names(bob) == ["event.starting", "event.scheduled"]
    assert await names(cat) == []


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_club_followers_hear_of_public_club_rooms_only(people: Any) -> None:
    """A club's followers are told when a public club room starts, not a members-only one."""
    founder, fan = await people.member("founder"), await people.member("fan")
    club = await found(founder)
    await give_role(founder, fan, club["id"], "fan", "follower")
    rooms = []
    for members_only in (False, True):
        r = await founder.post(
            "/api/rooms", json={"title": "Night", "club": club["id"], "members_only": members_only}
        )
        assert r.status_code == 201, r.text
        rooms.append(r.json()["id"])
    items = (await inbox(fan))["items"]
    assert [(i["name"], i["data"]["room"]) for i in items] == [("room.started", rooms[0])]


async def test_the_inbox_says_whether_you_follow_back_and_whether_the_room_is_live(
    people: Any,
) -> None:
    """``you_follow_actor`` turns true once you follow back; ``room_live`` false once the
    room of a "started a room" notification ended."""
    from tests.api import roomkit

    host, ann = await people.member("host"), await people.member("ann")
    await roomkit.follow(ann, "host")
    await roomkit.follow(host, "ann")
    room = await roomkit.create(host, title="Live")

    def of(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
        return next(n for n in items if n["name"] == name)

    mine = (await host.get("/api/notifications")).json()["items"]
    assert of(mine, "user.followed")["you_follow_actor"] is True
    assert of(mine, "user.followed")["room_live"] is None
    theirs = (await ann.get("/api/notifications")).json()["items"]
    assert of(theirs, "room.started")["room_live"] is True
    assert of(theirs, "user.followed")["you_follow_actor"] is True
    await roomkit.ok(host, room["id"], "end")
    theirs = (await ann.get("/api/notifications")).json()["items"]
    assert of(theirs, "room.started")["room_live"] is False
