"""Helpers shared by the club and event tests: found clubs, give roles, record happenings."""

from __future__ import annotations

import json
from typing import Any

import httpx

from townhall.app import Container
from townhall.domain.happenings import Happening


async def found(
    client: httpx.AsyncClient, name: str = "Jazz Lovers", **body: Any
) -> dict[str, Any]:
    r = await client.post("/api/clubs", json={"name": name, **body})
    assert r.status_code == 201, r.text
    return r.json()


async def club(client: httpx.AsyncClient, club_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/clubs/{club_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def join(client: httpx.AsyncClient, club_id: int) -> dict[str, Any]:
    r = await client.post(f"/api/clubs/{club_id}/join")
    assert r.status_code == 200, r.text
    return r.json()


async def give_role(
    founder: httpx.AsyncClient, person: httpx.AsyncClient, club_id: int, username: str, role: str
) -> None:
    """Put ``person`` into the (open) club in ``role``; "visitor" leaves them outside."""
    if role == "follower":
        r = await person.put(f"/api/clubs/{club_id}/follow")
        assert r.status_code == 200, r.text
    elif role in ("admin", "leader", "member"):
        await join(person, club_id)
        if role != "member":
            r = await founder.patch(f"/api/clubs/{club_id}/members/{username}", json={"role": role})
            assert r.status_code == 200, r.text
    assert (await club(person, club_id))["my_role"] == (None if role == "visitor" else role)


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


class Heard:
    """Happenings emitted while a test runs, as the listeners get them (data through JSON)."""

    def __init__(self, container: Container) -> None:
        self.items: list[Happening] = []
        container.happenings.listen(self._hear)

    async def _hear(self, happening: Happening) -> None:
        json.dumps(happening.data)
        self.items.append(happening)

    def of(self, kind: str) -> list[Happening]:
        return [h for h in self.items if h.kind == kind]


async def user_id(container: Container, username: str) -> int:
    """The id the happenings name a person by."""
    from townhall.storage import users

    async with container.db.transaction() as tx:
        user = await users.by_username(tx, username)
    assert user is not None
    return user.id
