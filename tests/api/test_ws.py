"""The WebSocket gateway, through real sockets: uvicorn on loopback and a websockets client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.waiting import PATIENCE
from tests.waiting import ws_connect as connect
from townhall.bus import channels

TIMEOUT = PATIENCE
"""How long a socket waits for a message that must come: only a failing test reaches it."""


@asynccontextmanager
async def serving(app: Any, sndbuf: int | None = None) -> AsyncIterator[str]:
    """Run the app with uvicorn on a free loopback port; yields the ws:// base address."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sndbuf is not None:
        # Accepted sockets inherit this, so a client that stops reading backs up fast.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", ws="websockets-sansio", log_level="warning", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task  # raises why it could not start
            raise AssertionError("the server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def base(app: Any) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


class Socket:
    """A client socket that keeps what arrives in order and answers requests by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.inbox: list[dict[str, Any]] = []
        self._next_id = 0
        self.client: Any = None

    async def receive(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        return dict(json.loads(raw))

    async def request(self, type: str, **fields: Any) -> dict[str, Any]:
        """Send a command; return its result message, keeping every other message."""
        self._next_id += 1
        mid = self._next_id
        await self.ws.send(json.dumps({"id": mid, "type": type, **fields}))
        while True:
            message = await self.receive()
            if message.get("type") == "result" and message.get("id") == mid:
                return message
            self.inbox.append(message)

    async def ok(self, type: str, **fields: Any) -> dict[str, Any]:
        reply = await self.request(type, **fields)
        assert reply["success"], reply
        return dict(reply["result"])

    async def event(self, name: str) -> dict[str, Any]:
        """The next event or notice called ``name`` (earlier ones stay in the inbox)."""
        for i, message in enumerate(self.inbox):
            if message.get("name") == name:
                return self.inbox.pop(i)
        while True:
            message = await self.receive()
            if message.get("name") == name:
                return message
            self.inbox.append(message)

    async def digest(self, match: Any = None) -> dict[str, Any]:
        """The data of the next ``audience.changed`` for which ``match(data)`` holds."""
        while True:
            data = dict((await self.event("audience.changed"))["data"])
            if match is None or match(data):
                return data

    async def arrived(self, username: str) -> dict[str, Any]:
        """The data of the next digest that lists ``username`` among the audience."""
        return await self.digest(lambda d: username in [m["username"] for m in d["members"]])

    async def departed(self, username: str) -> dict[str, Any]:
        """The data of the next digest that says ``username`` left."""
        return await self.digest(lambda d: username in d["left"])

    async def names_until(self, name: str) -> list[str]:
        """Names of every event up to and including the next ``name``."""
        names = [m.get("name", m["type"]) for m in self.inbox if m["type"] != "ping"]
        self.inbox.clear()
        while name not in names:
            message = await self.receive()
            if message["type"] != "ping":
                names.append(message.get("name", message["type"]))
        return names

    async def close(self) -> None:
        await self.ws.close()


def token_of(client: Any) -> str:
    return str(client.headers["Authorization"].split(" ", 1)[1])


@pytest.fixture
def open_socket(base: str) -> Any:
    sockets: list[Socket] = []

    async def make(client: Any) -> Socket:
        ws = await connect(
            f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(client)}"}
        )
        s = Socket(ws)
        s.client = client
        sockets.append(s)
        return s

    yield make


async def room_with(open_socket: Any, people: Any, *guests: str) -> tuple[str, list[Socket]]:
    """A room opened by ``host`` with ``guests`` joined; their sockets, host first."""
    # Everyone signs in first: signing in moves the clock, which the room sweeper reads.
    clients = [await people.member(name) for name in ("host", *guests)]
    host = await open_socket(clients[0])
    snapshot = (await host.ok("room.create", title="Hello", kind="open"))["snapshot"]
    room = snapshot["id"]
    sockets = [host]
    for name, client in zip(guests, clients[1:], strict=True):
        s = await open_socket(client)
        await s.ok("room.join", room=room)
        sockets.append(s)
        await host.arrived(name)
    return room, sockets


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; the close code it sent."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return ws.close_code


async def test_unauthenticated_sockets_are_closed_with_4401(base: str) -> None:
    """A socket without a session, or with a wrong token, is closed with code 4401."""
    async with connect(f"{base}/api/ws") as ws:
        assert await close_code(ws) == 4401
    async with connect(f"{base}/api/ws?token=not-a-token") as ws:
        assert await close_code(ws) == 4401


async def test_token_in_query_and_cookie_authenticate(base: str, people: Any) -> None:
    """The session token may come as ?token= or as the session cookie."""
    token = token_of(await people.member("ann"))
    async with connect(f"{base}/api/ws?token={token}") as ws:
        s = Socket(ws)
        assert (await s.request("unsubscribe", room="nothing"))["success"]
    async with connect(
        f"{base}/api/ws", additional_headers={"Cookie": f"townhall_session={token}"}
    ) as ws:
        s = Socket(ws)
        assert (await s.request("unsubscribe", room="nothing"))["success"]


async def test_people_in_a_room_see_each_others_actions_live(open_socket: Any, people: Any) -> None:
    """Arrivals (as digests), hands (moderators only), invitations (the invitee) and role
    changes arrive live."""
    room, (host, bob, carol) = await room_with(open_socket, people, "bob", "carol")
    assert (await bob.arrived("carol"))["listeners"] == 2

    await bob.ok("room.command", room=room, command="raise_hand")
    raised = await host.event("hand.raised")
    assert raised["data"] == {"username": "bob"}
    assert (await bob.event("hand.raised"))["stream"] == f"room:{room}"

    await host.ok("room.command", room=room, command="invite_to_speak", target="bob")
    assert (await bob.event("speak.invited"))["data"]["by"] == "host"
    await bob.ok("room.command", room=room, command="accept_speak")
    for s in (host, bob, carol):
        updated = await s.event("member.updated")
        assert updated["data"]["username"] == "bob"
        assert updated["data"]["role"] == "speaker"

    # Carol, a listener, saw neither the hand nor the invitation.
    await host.ok("room.command", room=room, command="rename", title="Renamed")
    names = await carol.names_until("room.updated")
    assert "hand.raised" not in names
    assert "speak.invited" not in names


async def test_role_changes_update_who_sees_moderator_events(open_socket: Any, people: Any) -> None:
    """A speaker made moderator starts receiving raised hands on the same socket."""
    room, (host, bob, carol) = await room_with(open_socket, people, "bob", "carol")
    await host.ok("room.command", room=room, command="invite_to_speak", target="bob")
    await bob.ok("room.command", room=room, command="accept_speak")
    await host.ok("room.command", room=room, command="make_moderator", target="bob")
    assert (await bob.event("member.updated"))["data"]["role"] == "speaker"
    assert (await bob.event("member.updated"))["data"]["role"] == "moderator"
    await carol.ok("room.command", room=room, command="raise_hand")
    assert (await bob.event("hand.raised"))["data"] == {"username": "carol"}


async def test_resume_after_disconnect_gets_exactly_the_missed_events(
    open_socket: Any, people: Any
) -> None:
    """Subscribing with after=<last seq> returns the events missed, then live ones follow."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    await host.ok("room.command", room=room, command="rename", title="One")
    last = (await bob.event("room.updated"))["seq"]
    await bob.close()

    await host.ok("room.command", room=room, command="rename", title="Two")
    await host.ok("room.command", room=room, command="rename", title="Three")

    bob2 = await open_socket(bob.client)
    result = await bob2.ok("subscribe", room=room, after=last)
    events = result["events"]
    assert [e["seq"] for e in events] == [last + 1, last + 2]
    assert [e["data"]["title"] for e in events] == ["Two", "Three"]
    await host.ok("room.command", room=room, command="rename", title="Four")
    live = await bob2.event("room.updated")
    assert live["seq"] == last + 3
    assert live["data"]["title"] == "Four"


@pytest.mark.settings(room_event_backlog=10)
async def test_resume_too_far_behind_gets_a_snapshot(open_socket: Any, people: Any) -> None:
    """When more events were missed than the log keeps, the reply is a fresh snapshot."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    await host.ok("room.command", room=room, command="rename", title="Start")
    last = (await bob.event("room.updated"))["seq"]
    await bob.close()
    for i in range(11):
        await host.ok("room.command", room=room, command="rename", title=f"Title {i}")
    bob2 = await open_socket(bob.client)
    result = await bob2.ok("subscribe", room=room, after=last)
    assert "events" not in result
    assert result["snapshot"]["title"] == "Title 10"
    assert result["snapshot"]["seq"] == last + 11
    assert result["snapshot"]["me"]["role"] == "listener"


async def test_bad_messages_get_invalid_message_and_the_socket_stays_open(
    open_socket: Any, people: Any
) -> None:
    """Malformed JSON, unknown types and bad fields answer invalid_message; the socket lives."""
    s = await open_socket(await people.member("ann"))
    for bad in (
        "not json",
        "[1, 2]",
        json.dumps({"id": 1, "type": "no.such"}),
        json.dumps({"id": 2, "type": "subscribe"}),
        json.dumps({"id": 3, "type": "subscribe", "room": 5}),
        json.dumps({"id": 4, "type": "subscribe", "room": "x", "extra": True}),
        json.dumps({"id": "five", "type": "unsubscribe", "room": "x"}),
        json.dumps({"id": 6, "type": "room.command", "room": "x", "command": "y" * 500}),
        "x" * 20_000,
    ):
        await s.ws.send(bad)
        reply = await s.receive()
        assert reply["type"] == "result"
        assert reply["success"] is False
        assert reply["error"]["code"] == "invalid_message"
    await s.ws.send(b"\x00binary")
    assert (await s.receive())["error"]["code"] == "invalid_message"
    missing = await s.request("subscribe", room="nosuchroom")
    assert missing["error"]["code"] == "room_not_found"
    unknown = await s.request("room.command", room="nosuchroom", command="fly")
    assert unknown["error"]["code"] == "unknown_command"


async def test_commands_report_domain_errors_by_code(open_socket: Any, people: Any) -> None:
    """A refused room command is answered with the domain's error code."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    reply = await bob.request("room.command", room=room, command="end")
    assert reply["error"]["code"] == "not_allowed"
    reply = await host.request("room.command", room=room, command="raise_hand")
    assert reply["error"]["code"] == "not_allowed"
    carol = await open_socket(await people.member("carol"))
    assert (await carol.request("subscribe", room=room))["error"]["code"] == "not_in_room"


async def raw_socket(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand on a socket with a tiny receive buffer, for a client that
    stops reading (a client library would keep reading into its own buffers). The stream
    reader stops reading the socket too once it holds twice its ``limit``: with a large one
    it would swallow everything the server sends as long as sends come slowly enough (as
    they do through Redis), and the server would never see a client falling behind."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=8192)
    writer.write(
        (
            "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    # One request and its reply: the socket is then subscribed to its notices.
    body = b'{"id":1,"type":"unsubscribe","room":"none"}'
    writer.write(bytes([0x81, 0x80 | len(body)]) + b"\x00\x00\x00\x00" + body)
    _, length = await reader.readexactly(2)
    assert b'"success":true' in await reader.readexactly(length)
    return reader, writer


async def frames_until_close(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read server frames to the close frame: (data frames seen, close code)."""
    seen = 0
    while True:
        first, second = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
        if first & 0x0F == 0x8:
            return seen, int.from_bytes(payload[:2], "big")
        seen += 1


@pytest.mark.settings(ws_send_queue=8, metrics_token="m")
async def test_a_slow_client_is_disconnected_with_4008(
    app: Any, people: Any, container: Any
) -> None:
    """A client that stops reading is closed with 4008 while others keep receiving."""
    async with serving(app, sndbuf=4096) as url:
        host_client = await people.member("host")
        slow_client = await people.member("slow")
        slow_user, _ = await container.accounts.authenticate(token_of(slow_client))
        async with connect(
            f"{url}/api/ws",
            additional_headers={"Authorization": f"Bearer {token_of(host_client)}"},
        ) as host_ws:
            host = Socket(host_ws)
            room = (await host.ok("room.create", title="Busy", kind="open"))["snapshot"]["id"]
            reader, writer = await raw_socket(int(url.rsplit(":", 1)[1]), token_of(slow_client))
            # Fill the slow reader's pipe with large personal notices it never reads.
            big = json.dumps({"type": "notice", "name": "filler", "data": {"x": "y" * 8000}})
            for _ in range(200):
                await container.bus.publish(channels.user(slow_user.id), big)
                await asyncio.sleep(0)
            await host.ok("room.command", room=room, command="rename", title="Still here")
            assert (await host.event("room.updated"))["data"]["title"] == "Still here"
            seen, code = await frames_until_close(reader)
            writer.close()
            assert code == 4008
            assert seen < 200
            await host.ok("room.command", room=room, command="rename", title="Later")
            assert (await host.event("room.updated"))["data"]["title"] == "Later"
            # The metrics count the socket let go as a queue drop.
            async with httpx.AsyncClient(base_url=url.replace("ws://", "http://")) as http:
                scraped = await http.get("/metrics", headers={"Authorization": "Bearer m"})
            assert "\ntownhall_websocket_queue_drops_total 1.0\n" in scraped.text


@pytest.mark.settings(ws_heartbeat_seconds=0.2)
async def test_heartbeat_pings_and_closes_silent_clients(open_socket: Any, people: Any) -> None:
    """The server pings every interval and closes a client silent for two intervals with 4000."""
    s = await open_socket(await people.member("ann"))
    assert await s.receive() == {"type": "ping"}
    await s.ws.send(json.dumps({"type": "pong"}))
    assert await s.receive() == {"type": "ping"}
    assert await close_code(s.ws) == 4000


async def test_removed_member_stops_receiving_the_room(open_socket: Any, people: Any) -> None:
    """A removed member gets the notice, then no more of the room's events."""
    room, (host, bob, carol) = await room_with(open_socket, people, "bob", "carol")
    await host.ok("room.command", room=room, command="remove", target="bob")
    notice = await bob.event("room.removed")
    assert notice == {"type": "notice", "name": "room.removed", "data": {"room": room}}
    await host.ok("room.command", room=room, command="rename", title="Without Bob")
    assert (await carol.event("room.updated"))["data"]["title"] == "Without Bob"
    # Bob's next message is the reply to his own request: no room event came in between.
    bob.inbox.clear()
    assert (await bob.request("unsubscribe", room=room))["success"]
    assert all(m.get("name") != "room.updated" for m in bob.inbox)


async def test_ending_the_room_ends_every_subscription(open_socket: Any, people: Any) -> None:
    """room.ended reaches everyone and closes the room's stream on each socket."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    await host.ok("room.command", room=room, command="end")
    assert (await bob.event("room.ended"))["data"] == {"reason": "ended_by_moderator"}
    ended = await bob.ok("subscribe", room=room)
    assert ended["snapshot"]["status"] == "ended"


async def test_events_round_trip_through_json(open_socket: Any, people: Any) -> None:
    """Live events carry the documented fields and equal the log's copy on resume."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    await host.ok("room.command", room=room, command="rename", title="Round trip")
    live = await bob.event("room.updated")
    assert set(live) == {"type", "stream", "seq", "name", "data", "audience", "at"}
    resumed = await bob.ok("subscribe", room=room, after=live["seq"] - 1)
    assert resumed["events"] == [live]


async def test_leave_and_unsubscribe_stop_the_stream(open_socket: Any, people: Any) -> None:
    """After room.leave a socket receives nothing more from the room."""
    room, (host, bob, carol) = await room_with(open_socket, people, "bob", "carol")
    assert await bob.ok("room.leave", room=room) == {}
    await carol.ok("unsubscribe", room=room)
    await host.ok("room.command", room=room, command="rename", title="Quiet")
    await host.event("room.updated")
    bob.inbox.clear()
    carol.inbox.clear()
    await bob.ok("unsubscribe", room=room)
    await carol.ok("unsubscribe", room=room)
    assert all(m.get("name") != "room.updated" for m in bob.inbox + carol.inbox)


async def test_presence_is_touched_for_connected_members(
    open_socket: Any, people: Any, container: Any, clock: Any
) -> None:
    """Members with an open socket are kept present; the sweeper does not mark them away."""
    room, (_host, bob) = await room_with(open_socket, people, "bob")
    clock.advance(seconds=container.settings.room_presence_timeout_seconds + 1)
    await container.gateway.heartbeat()
    await container.rooms.sweep()
    snapshot = await bob.ok("subscribe", room=room)
    assert all(
        not m["away"] for m in snapshot["snapshot"]["stage"] + snapshot["snapshot"]["audience"]
    )


@pytest.mark.settings(room_event_backlog=10)
async def test_socket_snapshots_are_the_http_snapshots(open_socket: Any, people: Any) -> None:
    """The snapshots of room.create, room.join, subscribe and a resync are the ones
    GET /api/rooms/{id} answers the same person in the same state."""
    host_client = await people.member("host")
    bob_client = await people.member("bob")
    carol_client = await people.member("carol")
    r = await bob_client.patch("/api/me", json={"display_name": "Bob B."})
    assert r.status_code == 200, r.text

    async def http(client: Any, room: str) -> dict[str, Any]:
        r = await client.get(f"/api/rooms/{room}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    host = await open_socket(host_client)
    created = (await host.ok("room.create", title="Same", kind="open"))["snapshot"]
    assert created == await http(host_client, created["id"])
    room = created["id"]

    bob = await open_socket(bob_client)
    joined = (await bob.ok("room.join", room=room))["snapshot"]
    assert joined == await http(bob_client, room)
    assert joined["audience"][0]["display_name"] == "Bob B."
    assert joined["hands"] is None and joined["club_id"] is None

    # A moderator's snapshot carries the raised hands.
    await bob.ok("room.command", room=room, command="raise_hand")
    await host.event("hand.raised")
    host2 = await open_socket(host_client)
    subscribed = (await host2.ok("subscribe", room=room))["snapshot"]
    assert subscribed["hands"] == ["bob"]
    assert subscribed == await http(host_client, room)

    # Too far behind: the resumed subscription answers with the same snapshot too.
    carol = await open_socket(carol_client)
    last = (await carol.ok("room.join", room=room))["snapshot"]["seq"]
    await carol.close()
    for i in range(11):
        await host.ok("room.command", room=room, command="rename", title=f"Title {i}")
    carol2 = await open_socket(carol_client)
    resumed = (await carol2.ok("subscribe", room=room, after=last))["snapshot"]
    assert resumed == await http(carol_client, room)
    r = await carol_client.get(f"/api/rooms/{room}/events", params={"after": last})
    assert r.status_code == 200, r.text
    assert r.json() == {"snapshot": resumed}


async def test_audio_levels_reach_only_sockets_following_the_room(
    open_socket: Any, people: Any, container: Any
) -> None:
    """Levels published on a room's levels channel reach the sockets following that room,
    as the documented room event, and not a socket that stopped following it."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    carol_client = await people.member("carol")
    carol_user, _ = await container.accounts.authenticate(token_of(carol_client))
    carol = await open_socket(carol_client)
    await carol.ok("room.join", room=room)
    await carol.ok("unsubscribe", room=room)

    await container.bus.publish(channels.levels(room), channels.levels_event(room, {"host": 0.5}))
    for s in (host, bob):
        levels = await s.event("audio.levels")
        assert levels == {
            "type": "event",
            "name": "audio.levels",
            "stream": f"room:{room}",
            "data": {"levels": {"host": 0.5}},
        }
    # Carol's own channel is delivered in order with the levels: had she received them,
    # they would have come before this notice.
    await container.bus.publish(channels.user(carol_user.id), channels.notice("marker", {}))
    carol.inbox.clear()
    await carol.event("marker")
    assert all(m.get("name") != "audio.levels" for m in carol.inbox)


async def test_levels_are_not_room_events(open_socket: Any, people: Any, container: Any) -> None:
    """A levels message on the levels channel never enters a room's numbered stream: the
    events that follow it arrive in order and none is held back as a gap."""
    room, (host, bob) = await room_with(open_socket, people, "bob")
    await container.bus.publish(channels.levels(room), channels.levels_event(room, {}))
    await host.ok("room.command", room=room, command="rename", title="After levels")
    assert (await bob.event("audio.levels"))["data"] == {"levels": {}}
    assert (await bob.event("room.updated"))["data"]["title"] == "After levels"
