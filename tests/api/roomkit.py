"""Helpers shared by the room tests: create, join, run commands and read snapshots over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/rooms", json={"title": "Talk", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def join(client: httpx.AsyncClient, room_id: str) -> dict[str, Any]:
    r = await client.post(f"/api/rooms/{room_id}/join")
    assert r.status_code == 200, r.text
    return r.json()


async def cmd(client: httpx.AsyncClient, room_id: str, command: str, **args: Any) -> httpx.Response:
    return await client.post(f"/api/rooms/{room_id}/commands", json={"command": command, **args})


async def ok(client: httpx.AsyncClient, room_id: str, command: str, **args: Any) -> None:
    r = await cmd(client, room_id, command, **args)
    assert r.status_code == 200, r.text


async def snap(client: httpx.AsyncClient, room_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/rooms/{room_id}")
    assert r.status_code == 200, r.text
    return r.json()


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def roles(snapshot: dict[str, Any]) -> dict[str, str]:
    """username -> role of everyone in the room."""
    return {m["username"]: m["role"] for m in snapshot["stage"] + snapshot["audience"]}


async def follow(client: httpx.AsyncClient, username: str) -> None:
    r = await client.put(f"/api/users/{username}/follow")
    assert r.status_code == 200, r.text


async def block(client: httpx.AsyncClient, username: str) -> None:
    r = await client.put(f"/api/users/{username}/block")
    assert r.status_code == 200, r.text


async def bring_on_stage(
    mod: httpx.AsyncClient, person: httpx.AsyncClient, room_id: str, username: str
) -> None:
    """A moderator invites a listener to speak and they accept."""
    await ok(mod, room_id, "invite_to_speak", target=username)
    await ok(person, room_id, "accept_speak")


async def events(client: httpx.AsyncClient, room_id: str, after: int = 0) -> list[dict[str, Any]]:
    r = await client.get(f"/api/rooms/{room_id}/events", params={"after": after})
    assert r.status_code == 200, r.text
    return r.json()["events"]
