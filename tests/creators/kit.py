"""Helpers of the creators tests: a room with someone on stage, and a tip through HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api import roomkit


def key() -> str:
    return uuid.uuid4().hex


async def stage_and_listener(people: Any) -> tuple[httpx.AsyncClient, httpx.AsyncClient, str]:
    """A host on stage in a live room, and a listener in it: (host, listener, room id)."""
    host = await people.member("hostess")
    listener = await people.member("listener")
    room = await roomkit.create(host)
    await roomkit.join(listener, room["id"])
    return host, listener, room["id"]


async def tip(
    client: httpx.AsyncClient, room_id: str, to: str = "hostess", amount: int = 500, **more: Any
) -> httpx.Response:
    body = {"to": to, "amount": amount, "idempotency_key": more.pop("idempotency_key", key())}
    return await client.post(f"/api/rooms/{room_id}/tips", json={**body, **more})


async def balance(client: httpx.AsyncClient, currency: str = "EUR") -> int:
    r = await client.get("/api/me/earnings")
    assert r.status_code == 200, r.text
    return int(r.json()["balances"].get(currency, 0))


async def reconciled(admin: httpx.AsyncClient) -> dict[str, Any]:
    r = await admin.get("/api/admin/payments/reconciliation")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
