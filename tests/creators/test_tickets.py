"""Ticketed events (S10): a price set by the host, only ticket holders in the room, the
capacity kept under concurrent purchases, and refunds when the host cancels."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tests.api import roomkit
from tests.creators.kit import balance, key, reconciled


async def ticketed_event(
    people: Any, price: int = 1500, capacity: int | None = None
) -> tuple[httpx.AsyncClient, str]:
    """A host and their event half an hour from now, ticketed at ``price``."""
    host = await people.member("hostess")
    starts = (people.clock.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    r = await host.post(
        "/api/events", json={"name": "Paid night", "starts_at": starts, "time_zone": "UTC"}
    )
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    body: dict[str, Any] = {"price": price}
    if capacity is not None:
        body["capacity"] = capacity
    r = await host.put(f"/api/events/{event}/tickets", json=body)
    assert r.status_code == 200, r.text
    return host, event


async def buy(client: httpx.AsyncClient, event: str, k: str | None = None) -> httpx.Response:
    return await client.post(f"/api/events/{event}/tickets", json={"idempotency_key": k or key()})


async def test_only_ticket_holders_enter_the_events_room(people: Any) -> None:
    """A bought ticket lets its holder into the room the host starts; someone without one
    is refused with `ticket_required`, and the room is not listed for them."""
    host, event = await ticketed_event(people)
    fan = await people.member("fan")
    stranger = await people.member("stranger")
    r = await buy(fan, event)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["purpose"] == "ticket"
    t = (await fan.get(f"/api/events/{event}/tickets")).json()
    assert (t["price"], t["sold"], t["mine"]) == (1500, 1, "valid")
    assert await balance(host) == 1500
    r = await host.post(f"/api/events/{event}/start")
    assert r.status_code == 201, r.text
    room = r.json()["id"]
    r = await stranger.post(f"/api/rooms/{room}/join")
    assert r.status_code == 403 and roomkit.code(r) == "ticket_required"
    listed = (await stranger.get("/api/rooms")).json()
    assert room not in str(listed)
    await roomkit.join(fan, room)
    assert room in str((await fan.get("/api/rooms")).json())


async def test_a_ticket_is_bought_once_and_the_price_is_fixed_once_sold(people: Any) -> None:
    """The same purchase twice is one payment; a second purchase is refused; the price
    cannot change after a sale; an event without a price needs no ticket."""
    host, event = await ticketed_event(people)
    fan = await people.member("fan")
    k = key()
    first, again = await buy(fan, event, k), await buy(fan, event, k)
    assert first.json()["id"] == again.json()["id"]
    r = await buy(fan, event)
    assert r.status_code == 409 and roomkit.code(r) == "ticket_already_held"
    r = await host.put(f"/api/events/{event}/tickets", json={"price": 900})
    assert r.status_code == 409 and roomkit.code(r) == "tickets_sold"
    r = await fan.put(f"/api/events/{event}/tickets", json={"price": 900})
    assert r.status_code == 403 and roomkit.code(r) == "not_event_creator"
    assert await balance(host) == 1500


async def test_concurrent_purchases_never_sell_more_than_the_capacity(people: Any) -> None:
    """Eight people buy the last three tickets at once: three get one, five are told it
    is sold out, and the seats sold are three."""
    host, event = await ticketed_event(people, price=1000, capacity=3)
    buyers = [await people.member(f"buyer{n}") for n in range(8)]
    answers = await asyncio.gather(*(buy(b, event) for b in buyers))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 3 + [409] * 5, [r.text for r in answers]
    assert {roomkit.code(r) for r in answers if r.status_code == 409} == {"sold_out"}
    t = (await host.get(f"/api/events/{event}/tickets")).json()
    assert t["sold"] == 3
    assert await balance(host) == 3000


async def test_cancelling_the_event_refunds_every_ticket(people: Any) -> None:
    """The host cancels: every ticket holder gets their whole payment back, the host's
    earnings from it are gone, and the ledger still agrees with the provider."""
    host, event = await ticketed_event(people, price=2000)
    fans = [await people.member(f"fan{n}") for n in range(2)]
    paid = [(await buy(f, event)).json() for f in fans]
    assert await balance(host) == 4000
    r = await host.post(f"/api/events/{event}/cancel")
    assert r.status_code == 200, r.text
    for fan, payment in zip(fans, paid, strict=True):
        now = (await fan.get(f"/api/me/payments/{payment['id']}")).json()
        assert now["status"] == "refunded"
        assert (await fan.get(f"/api/events/{event}/tickets")).json()["mine"] == "refunded"
    assert await balance(host) == 0
    report = await reconciled(await people.admin())
    assert report["ok"], report
    # The provider kept its fees: the platform bore them.
    fees = sum(p["fee"] for p in paid)
    assert report["clearing"]["EUR"]["ledger"] == -fees
