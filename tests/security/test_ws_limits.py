"""Item 9, WebSocket and media: sockets per person, a message rate per socket, a cap on a
message's size, and audio connections per person are bounded, each by a setting."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.roomkit import create, join
from tests.api.test_ws import (  # noqa: F401 (fixtures)
    Socket,
    base,
    close_code,
    open_socket,
    serving,
    token_of,
)
from tests.media.voicekit import LOOPBACK, MEDIA_SETTINGS, signalling
from tests.security import conftest as security
from tests.waiting import PATIENCE, until
from tests.waiting import ws_connect as connect
from townhall.__main__ import uvicorn_options
from townhall.api.http import create_api
from townhall.api.ws.limits import CLOSE_TOO_BIG, CLOSE_TOO_MANY, MessageGate, Refusal
from townhall.app import Container, build_container
from townhall.client.voice import RoomAudio


async def answers(s: Socket) -> bool:
    """The socket runs a command (it was not closed at once)."""
    return bool((await s.request("unsubscribe", room="nothing"))["success"])


@pytest.mark.settings(ws_max_sockets_per_user=2)
async def test_a_person_holds_at_most_the_cap_of_sockets(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """The socket past the cap is closed with 4429; closing one makes room for another, and
    other people are not concerned."""
    ada, lee = await people.member("ada"), await people.member("lee")
    first, second = await open_socket(ada), await open_socket(ada)
    assert await answers(first) and await answers(second)
    third = await open_socket(ada)
    assert await close_code(third.ws) == 4429
    assert await answers(await open_socket(lee))
    await first.close()

    async def another_fits() -> bool:
        s = await open_socket(ada)
        try:
            return await answers(s)
        except Exception:
            return False

    await until(another_fits, "a socket to fit once one closed")


@pytest.mark.settings(ws_max_sockets_per_user=1)
async def test_the_socket_cap_counts_every_process(
    stack: str,
    settings: Any,
    people: Any,
    container: Container,
    base: str,  # noqa: F811
) -> None:
    """With Redis, a socket held on one API process counts on another."""
    if stack == "sqlite":
        pytest.skip("the embedded stack is one process: its count is that process's")
    ada = await people.member("ada")
    headers = {"Authorization": f"Bearer {token_of(ada)}"}
    other = build_container(settings, people.clock)
    await other.start()
    try:
        async with (
            connect(f"{base}/api/ws", additional_headers=headers) as here,
            serving(create_api(other)) as url,
        ):
            assert await answers(Socket(here))
            async with connect(f"{url}/api/ws", additional_headers=headers) as there:
                assert await close_code(there) == 4429
    finally:
        await other.close()


@pytest.mark.settings(ws_messages_per_second=0.001, ws_message_burst=5)
async def test_a_flooding_socket_is_refused_then_closed(
    people: Any,
    open_socket: Any,  # noqa: F811
) -> None:
    """Past the burst a message is answered rate_limited (with retry_after) and not run; a
    socket that keeps sending is closed with 4429; others are served meanwhile."""
    ada, lee = await people.member("ada"), await people.member("lee")
    s, other = await open_socket(ada), await open_socket(lee)
    for _ in range(5):
        assert await answers(s)
    refused = await s.request("room.create", title="One too many")
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] > 0
    assert await answers(other)
    for i in range(4):
        await s.ws.send(json.dumps({"id": 100 + i, "type": "unsubscribe", "room": "x"}))
    assert await close_code(s.ws) == 4429
    titles = [r["title"] for r in (await lee.get("/api/rooms")).json()["items"]]
    assert "One too many" not in titles


@pytest.mark.settings(ws_max_message_bytes=16384)
@pytest.mark.parametrize("where", ["uvicorn", "gateway"])
async def test_an_oversized_message_closes_with_1009(
    app: Any, settings: Any, people: Any, where: str
) -> None:
    """A message over the cap closes the socket with 1009: uvicorn refuses it as it arrives
    under ``townhall serve``'s options, and the gateway checks again behind any server."""
    ada = await people.member("ada")
    options: dict[str, Any] = {"ws": "websockets-sansio"}
    if where == "uvicorn":
        options["ws_max_size"] = uvicorn_options(settings)["ws_max_size"]
        assert options["ws_max_size"] == 16384
    async with security.serving(app, **options) as port:
        headers = {"Authorization": f"Bearer {token_of(ada)}"}
        async with connect(
            f"ws://127.0.0.1:{port}/api/ws", additional_headers=headers, max_size=None
        ) as ws:
            assert await answers(Socket(ws))
            await ws.send(json.dumps({"id": 1, "type": "pong", "pad": "x" * 20_000}))
            assert await close_code(ws) == 1009


@pytest.mark.settings(media_sessions_per_user=1, **MEDIA_SETTINGS)
async def test_audio_connections_per_person_are_capped(people: Any) -> None:
    """Holding one audio connection, a person's offer in another room is refused 409
    too_many_media_sessions; a new offer in the same room (a replacement) is not."""
    ann, bob = await people.member("ann"), await people.member("bob")
    first = (await create(ann, title="First"))["id"]
    second = (await create(ann, title="Second"))["id"]
    await join(bob, first)
    await join(bob, second)
    audio = await RoomAudio.open(
        signalling(bob, first), bind_addresses=LOOPBACK, reconnect=False, wait=PATIENCE
    )
    try:
        r = await bob.post(f"/api/rooms/{second}/media", json={"type": "offer", "sdp": "v=0"})
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert (error["code"], error["limit"]) == ("too_many_media_sessions", 1)
        r = await bob.post(f"/api/rooms/{first}/media", json={"type": "offer", "sdp": "v=0"})
        assert r.status_code == 400, r.text  # past the cap: only the offer is wrong
    finally:
        await audio.close()


def test_the_bucket_refills_at_its_rate() -> None:
    """Sans-I/O: the burst passes at once, then one message per 1/rate seconds; a refusal
    says how long to wait; one accepted message forgives the refusals before it."""
    gate = MessageGate(rate=2.0, burst=3, max_bytes=100, now=0.0)
    assert [gate.check(10, 0.0) for _ in range(3)] == [None, None, None]
    refused = gate.check(10, 0.0)
    assert refused is not None and refused.close is None and refused.retry_after == 0.5
    assert gate.check(10, 0.5) is None
    assert gate.check(10, 0.5) is not None and gate.check(10, 0.5) is not None
    assert gate.check(10, 1.0) is None
    assert gate.check(101, 1.0) == Refusal(CLOSE_TOO_BIG)
    assert [gate.check(10, 1.0) for _ in range(3)][-1] == Refusal(CLOSE_TOO_MANY)
