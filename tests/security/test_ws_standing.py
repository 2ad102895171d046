"""Item 2: a socket follows its session. Signing out, an operator's change of status and
deleting the account close the person's sockets (4401) and end their audio, in every
process; every command acts as the person is now."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed

from tests.api.roomkit import create
from tests.api.test_admin import invited, waiting
from tests.api.test_ws import (  # noqa: F401 (fixtures)
    TIMEOUT,
    Socket,
    base,
    close_code,
    open_socket,
    serving,
    token_of,
)
from tests.media.voicekit import LOOPBACK, MEDIA_SETTINGS, signalling
from tests.waiting import PATIENCE, until
from tests.waiting import ws_connect as connect
from townhall.api.http import create_api
from townhall.app import Container, build_container
from townhall.client.voice import RoomAudio
from townhall.storage.models import User


async def sessions(client: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/me/sessions")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def live_titles(client: Any) -> list[str]:
    r = await client.get("/api/rooms")
    assert r.status_code == 200, r.text
    return [room["title"] for room in r.json()["items"]]


async def replies_until_closed(s: Socket) -> list[dict[str, Any]]:
    """Every result the socket gets before the server closes it."""
    results = []
    with pytest.raises(ConnectionClosed):
        while True:
            message = json.loads(await asyncio.wait_for(s.ws.recv(), TIMEOUT))
            if message.get("type") == "result":
                results.append(message)
    return results


async def test_signing_out_everywhere_closes_the_socket_with_4401(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """After "sign out everywhere" the open socket closes with 4401 and creates no room."""
    ada, lee = await people.member("ada"), await people.member("lee")
    s = await open_socket(ada)
    await s.ok("unsubscribe", room="nothing")
    r = await ada.delete("/api/me/sessions")
    assert r.status_code == 200, r.text
    # The close may already be on its way: a command sent after it is simply not delivered.
    with contextlib.suppress(ConnectionClosed):
        await s.ws.send(json.dumps({"id": 9, "type": "room.create", "title": "Still here"}))
    results = await replies_until_closed(s)
    assert s.ws.close_code == 4401
    assert not [m for m in results if m["success"]]
    assert "Still here" not in await live_titles(lee)


async def test_revoking_one_session_closes_only_its_sockets(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Signing one device out closes that device's socket; the other device's carries on."""
    await people.member("ada")
    phone = await people.sign_in("ada@example.org")
    laptop = await people.sign_in("ada@example.org")
    on_phone, on_laptop = await open_socket(phone), await open_socket(laptop)
    phone_session = next(x["id"] for x in await sessions(phone) if x["current"])
    r = await laptop.delete(f"/api/me/sessions/{phone_session}")
    assert r.status_code == 200, r.text
    assert await close_code(on_phone.ws) == 4401
    assert (await on_laptop.ok("room.create", title="From the laptop"))["snapshot"]


async def test_signing_out_elsewhere_keeps_this_device(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Signing out everywhere else closes the other devices' sockets, not this one's."""
    here = await people.member("ada")
    there = await people.sign_in("ada@example.org")
    mine, theirs = await open_socket(here), await open_socket(there)
    r = await here.delete("/api/me/sessions", params={"keep_current": "true"})
    assert r.status_code == 200, r.text
    assert await close_code(theirs.ws) == 4401
    assert (await mine.ok("room.create", title="Still mine"))["snapshot"]


async def test_a_demoted_persons_socket_no_longer_acts_as_a_member(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Sent back to the waitlist, a person's socket creates no room: the command right after
    the operator's answer is refused or finds the socket closing; then it closes with 4401."""
    admin, alice = await people.admin(), await people.member("alice")
    bob = await invited(people, alice, "bob")
    s = await open_socket(bob)
    await s.ok("unsubscribe", room="nothing")
    r = await admin.post("/api/admin/users/alice/invite-tree/cancel", json={"demote": True})
    assert r.status_code == 200 and r.json()["demoted"] == ["bob"], r.text
    await s.ws.send(json.dumps({"id": 9, "type": "room.create", "title": "Demoted talk"}))
    results = await replies_until_closed(s)
    assert s.ws.close_code == 4401
    assert not [m for m in results if m["success"]]
    assert "Demoted talk" not in await live_titles(admin)


async def test_an_approved_persons_socket_acts_as_a_member(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """A standing that grows carries the socket on: once approved, the same socket (never
    reconnected) creates rooms."""
    admin = await people.admin()
    wendy = await waiting(people, "wendy")
    s = await open_socket(wendy)
    refused = await s.request("room.create", title="Too early")
    assert refused["error"]["code"] == "not_a_member"
    r = await admin.post("/api/admin/waitlist/approve", json={"usernames": ["wendy"]})
    assert r.json()["approved"] == ["wendy"], r.text

    async def created() -> bool:
        return bool((await s.request("room.create", title="Now a member"))["success"])

    await until(created, "wendy's socket to act as a member")
    assert s.ws.close_code is None


async def test_deleting_the_account_closes_every_socket(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Both devices' sockets close with 4401 when the account is deleted."""
    one = await people.member("ada")
    two = await people.sign_in("ada@example.org")
    first, second = await open_socket(one), await open_socket(two)
    r = await one.request("DELETE", "/api/me", json={"confirm": "ada"})
    assert r.status_code == 200, r.text
    assert await close_code(first.ws) == 4401
    assert await close_code(second.ws) == 4401


async def test_an_expired_session_closes_at_the_next_sweep(
    people: Any,
    container: Container,
    open_socket: Any,  # noqa: F811
) -> None:
    """The standing sweep, which catches a signal a process missed, also closes the socket
    of a session that expired while it was open."""
    ada = await people.member("ada")
    s = await open_socket(ada)
    await s.ok("unsubscribe", room="nothing")
    await container.standings.sweep()
    await s.ok("unsubscribe", room="nothing")
    people.clock.advance(days=container.settings.session_ttl_days + 1)
    await container.standings.sweep()
    assert await close_code(s.ws) == 4401


async def test_the_sweep_catches_changes_made_without_a_signal(
    people: Any,
    container: Container,
    open_socket: Any,  # noqa: F811
) -> None:
    """Changes written to the database without telling the processes (as a missed signal
    leaves them) reach the sockets at the next sweep: a suspended person's socket closes, a
    renamed person's socket carries on as renamed, and an unchanged person's is as it was."""
    host, ada, bob, cat = [await people.member(n) for n in ("host", "ada", "bob", "cat")]
    room = (await create(host))["id"]
    sockets = {name: await open_socket(c) for name, c in (("ada", ada), ("bob", bob), ("cat", cat))}
    for s in sockets.values():
        await s.ok("unsubscribe", room="nothing")
    now = people.clock.now()
    async with container.db.transaction() as tx:
        await tx.execute(
            update(User).where(User.username == "bob").values(display_name="Bob Renamed")
        )
        await tx.execute(
            update(User)
            .where(User.username == "cat")
            .values(suspended_until=now + timedelta(days=1))
        )
    await container.standings.sweep()
    assert await close_code(sockets["cat"].ws) == 4401
    joined = (await sockets["bob"].ok("room.join", room=room))["snapshot"]
    names = {m["username"]: m["display_name"] for m in joined["audience"]}
    assert names["bob"] == "Bob Renamed"
    joined = (await sockets["ada"].ok("room.join", room=room))["snapshot"]
    names = {m["username"]: m["display_name"] for m in joined["audience"]}
    assert names["ada"] == (await ada.get("/api/me")).json()["display_name"]
    assert names["bob"] == "Bob Renamed"


async def test_every_process_closes_the_sockets(
    stack: str, settings: Any, people: Any, container: Container
) -> None:
    """Signing out on one API process closes the socket held by another (through Redis)."""
    if stack == "sqlite":
        pytest.skip("the embedded stack is one process: its bus does not leave it")
    ada = await people.member("ada")
    other = build_container(settings, people.clock)
    await other.start()
    try:
        async with serving(create_api(other)) as url:
            headers = {"Authorization": f"Bearer {token_of(ada)}"}
            async with connect(f"{url}/api/ws", additional_headers=headers) as ws:
                s = Socket(ws)
                await s.ok("unsubscribe", room="nothing")
                r = await ada.delete("/api/me/sessions")
                assert r.status_code == 200, r.text
                assert await close_code(ws) == 4401
    finally:
        await other.close()


@pytest.mark.settings(**MEDIA_SETTINGS)
@pytest.mark.parametrize("how", ["sign_out", "demote", "suspend", "ban"])
async def test_losing_standing_ends_the_audio(people: Any, how: str) -> None:
    """Signed out, sent back to the waitlist, suspended or banned, a listener's audio
    connection ends."""
    admin, alice = await people.admin(), await people.member("alice")
    bob = await invited(people, alice, "bob")
    rid = (await create(alice, title="Voices"))["id"]
    assert (await bob.post(f"/api/rooms/{rid}/join")).status_code == 200
    audio = await RoomAudio.open(
        signalling(bob, rid), bind_addresses=LOOPBACK, reconnect=False, wait=PATIENCE
    )
    try:
        assert audio.connected
        if how == "sign_out":
            r = await bob.delete("/api/me/sessions")
        elif how == "demote":
            r = await admin.post("/api/admin/users/alice/invite-tree/cancel", json={"demote": True})
        else:
            until_then = (people.clock.now() + timedelta(days=1)).isoformat()
            body = {"action": how, "reason": "Abuse"}
            if how == "suspend":
                body["until"] = until_then
            r = await admin.post("/api/admin/users/bob/actions", json=body)
        assert r.status_code == 200, r.text
        await until(lambda: not audio.connected, "bob's audio to end")
        assert not people.container.media.connections()
    finally:
        await audio.close()
