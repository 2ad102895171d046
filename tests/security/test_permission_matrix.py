"""The permission matrix: every HTTP route and WebSocket command, for each kind of person.

The routes come from the application's own route table, and who may call each is the table
in docs/security.md ("Permission matrix"). Every route is called as each kind of person:
those below the documented level are refused with the level's answer (401 ``not_signed_in``,
403 ``not_a_member``, 403 ``not_staff``); those at or above it get past that refusal (they
may still meet a 4xx about the thing itself, a missing room or a bad body); nobody ever gets
a server error. A route added without a row in the table fails the first test.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from websockets.exceptions import ConnectionClosed

from tests.api.test_ws import TIMEOUT, Socket, serving, token_of
from tests.waiting import ws_connect as connect
from townhall.api.ws.commands import REGISTRY

LEVELS = ("visitor", "waitlisted", "member", "staff")
REFUSALS = {
    "visitor": (401, "not_signed_in"),
    "waitlisted": (403, "not_a_member"),
    "member": (403, "not_staff"),
}
"""What someone gets from a route above their level: the refusal of the level they are at."""

DOC = Path(__file__).parents[2] / "docs" / "security.md"


def documented() -> dict[tuple[str, str], str]:
    """(method, path) → the lowest level allowed, from the matrix tables in docs/security.md;
    a WebSocket command is ("WS", its type)."""
    text = DOC.read_text()
    section = text.split("## Permission matrix", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+) ([^`]+)` \| (\w+) \|", section, re.M)
    table = {(method, path): level for method, path, level in rows}
    assert len(table) == len(rows), "a route is listed twice"
    return table


def route_table(app: Any) -> set[tuple[str, str]]:
    def walk(routes: list[Any]) -> Any:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # an included router
                yield from walk(route.original_router.routes)

    return {(m, r.path) for r in walk(app.routes) for m in r.methods}


def test_every_route_has_a_documented_level(app: Any) -> None:
    table = documented()
    assert set(table.values()) <= set(LEVELS)
    routes = route_table(app) | {("WS", name) for name in REGISTRY}
    assert routes - table.keys() == set(), "routes missing from the matrix in docs/security.md"
    assert table.keys() - routes == set(), "the matrix lists routes that do not exist"


def refused_as(response: httpx.Response) -> str | None:
    """The level a refusal says the caller is at, or None when the level let them through."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    for level, (status, refusal) in REFUSALS.items():
        if (response.status_code, code) == (status, refusal):
            return level
    return None


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/rooms"): {"title": "Anyone"},
    ("POST", "/api/rooms/{room_id}/commands"): {"command": "raise_hand"},
    ("POST", "/api/clubs"): {"name": "Another club"},
    ("PATCH", "/api/clubs/{club_id}"): {"description": "Still jazz"},
    ("POST", "/api/events"): {
        "name": "Another night",
        "starts_at": "2026-03-11T20:00",
        "time_zone": "Europe/Paris",
    },
    ("PATCH", "/api/events/{event_id}"): {"name": "Renamed"},
    ("PATCH", "/api/me"): {"bio": "Hello"},
    ("POST", "/api/invites"): {"email": "friend@example.org"},
    ("PUT", "/api/me/contacts"): {"hashes": []},
    ("POST", "/api/admin/waitlist/approve"): {"usernames": []},
}
"""Bodies that pass validation, so the level check is reached wherever it is made."""

EMAILS = {"waitlisted": "matrix_wait@example.org", "member": "matrix_member@example.org"}


class Cast:
    """One person of each level, signed in again whenever a route signs them out."""

    def __init__(self, people: Any, make_client: Any) -> None:
        self.people = people
        self.make_client = make_client
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def gather(self) -> None:
        self.clients["visitor"] = self.make_client()
        self.clients["waitlisted"] = await self.people.sign_in(
            EMAILS["waitlisted"], username="matrix_wait"
        )
        self.clients["member"] = await self.people.member("matrix_member")
        self.clients["staff"] = await self.people.admin("matrix_staff")

    async def mend(self) -> None:
        emails = {**EMAILS, "staff": "matrix_staff@example.org"}
        for level, email in emails.items():
            if (await self.clients[level].get("/api/me")).status_code == 401:
                self.clients[level] = await self.people.sign_in(email)


async def test_every_route_refuses_exactly_the_levels_below_its_own(
    people: Any, make_client: Any, app: Any
) -> None:
    owner = await people.member("matrix_owner")
    for n in range(3):  # founding a club takes three hosted rooms
        room = (await owner.post("/api/rooms", json={"title": f"Warm-up {n}"})).json()
        r = await owner.post(f"/api/rooms/{room['id']}/commands", json={"command": "end"})
        assert r.status_code == 200, r.text
    club = (await owner.post("/api/clubs", json={"name": "Matrix club"})).json()
    room = (await owner.post("/api/rooms", json={"title": "Matrix"})).json()
    event = (await owner.post("/api/events", json={**BODIES[("POST", "/api/events")]})).json()
    fill = {
        "room_id": str(room["id"]),
        "club_id": str(club["id"]),
        "event_id": str(event["id"]),
        "username": "matrix_owner",
    }
    cast = Cast(people, make_client)
    await cast.gather()
    table = documented()
    wrong: list[str] = []
    # Routes that sign someone out or delete them go last, so the rest meet the same people.
    order = sorted(route_table(app), key=lambda r: (r[0] == "DELETE" and "/me" in r[1], r))
    for method, path in order:
        url = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), "1"), path)
        allowed_from = LEVELS.index(table[(method, path)])
        for i, level in enumerate(LEVELS):
            body = BODIES.get((method, path), {} if method in ("POST", "PUT", "PATCH") else None)
            r = await cast.clients[level].request(method, url, json=body)
            refusal = refused_as(r)
            if r.status_code >= 500:
                wrong.append(f"{method} {path} as {level}: {r.status_code}")
            elif i < allowed_from and refusal is None:
                wrong.append(f"{method} {path} as {level}: not refused ({r.status_code})")
            elif i >= allowed_from and refusal is not None:
                wrong.append(f"{method} {path} as {level}: refused ({r.text})")
        await cast.mend()
    assert wrong == []


WS_MESSAGES: dict[str, dict[str, Any]] = {
    "subscribe": {},
    "unsubscribe": {},
    "room.join": {},
    "room.leave": {},
    "room.command": {"command": "raise_hand"},
    "room.create": {"title": "Anyone's room"},
    "pong": {},
}
"""A well-formed message of each command; ``room`` is added to those that take one."""


async def test_every_websocket_command_refuses_exactly_the_levels_below_its_own(
    people: Any, app: Any
) -> None:
    owner = await people.member("matrix_owner")
    room = (await owner.post("/api/rooms", json={"title": "Matrix"})).json()["id"]
    clients = {
        "waitlisted": await people.sign_in(EMAILS["waitlisted"], username="matrix_wait"),
        "member": await people.member("matrix_member"),
        "staff": await people.admin("matrix_staff"),
    }
    table = documented()
    wrong: list[str] = []
    async with serving(app) as base:
        async with connect(f"{base}/api/ws") as ws:  # a visitor is closed at once
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        for name in sorted(REGISTRY):
            allowed_from = LEVELS.index(table[("WS", name)])
            for i, level in enumerate(LEVELS[1:], start=1):
                headers = {"Authorization": f"Bearer {token_of(clients[level])}"}
                async with connect(f"{base}/api/ws", additional_headers=headers) as ws:
                    s = Socket(ws)
                    fields = dict(WS_MESSAGES[name])
                    if "room" in REGISTRY[name].schema.model_fields:
                        fields["room"] = room
                    if REGISTRY[name].replies:
                        reply = await s.request(name, **fields)
                        error = reply.get("error") or {}
                    else:  # no reply: the socket must still answer what follows
                        await ws.send(json.dumps({"type": name, **fields}))
                        error = (await s.request("unsubscribe", room=room)).get("error") or {}
                refused = error.get("code") in ("not_a_member", "not_staff")
                if i < allowed_from and not refused:
                    wrong.append(f"{name} as {level}: not refused ({error})")
                elif i >= allowed_from and refused:
                    wrong.append(f"{name} as {level}: refused ({error})")
                if error.get("code") == "internal_error":
                    wrong.append(f"{name} as {level}: {error}")
    assert wrong == []
