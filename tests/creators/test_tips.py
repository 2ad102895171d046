"""Tips (S10): to someone on stage, the whole amount, the fee shown first, the room told."""

from __future__ import annotations

from typing import Any

from tests.api import roomkit
from tests.creators.kit import balance, key, reconciled, stage_and_listener, tip


async def test_the_fee_is_quoted_on_top_and_the_whole_tip_reaches_the_person(people: Any) -> None:
    """The quote adds the provider's fee; the payer is charged it, the person on stage
    receives the whole tip, and the ledger and the provider agree."""
    host, listener, room = await stage_and_listener(people)
    q = await listener.get("/api/payments/quote", params={"amount": 500})
    assert q.status_code == 200, q.text
    quote = q.json()
    assert quote["amount"] == 500 and quote["fee"] > 0
    assert quote["total"] == 500 + quote["fee"]
    r = await tip(listener, room, amount=500)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["status"] == "succeeded"
    assert (paid["fee"], paid["total"], paid["to"]) == (quote["fee"], quote["total"], "hostess")
    assert await balance(host) == 500
    history = (await host.get("/api/me/earnings")).json()["history"]
    assert [(h["kind"], h["amount"]) for h in history] == [("tip", 500)]
    mine = (await listener.get("/api/me/payments")).json()["payments"]
    assert [p["id"] for p in mine] == [paid["id"]]
    report = await reconciled(await people.admin())
    assert report["ok"], report
    assert report["clearing"]["EUR"] == {"ledger": 500, "provider": 500, "difference": 0}


async def test_the_room_hears_of_a_tip_with_the_amount_only_when_the_tipper_says_so(
    people: Any,
) -> None:
    """A tip is a `tip.sent` event in the room's log; the amount is in it only with
    `show_amount`."""
    host, listener, room = await stage_and_listener(people)
    assert (await tip(listener, room, amount=300)).status_code == 200
    assert (await tip(listener, room, amount=700, show_amount=True)).status_code == 200
    tips = [e for e in await roomkit.events(host, room) if e["name"] == "tip.sent"]
    assert [e["data"] for e in tips] == [
        {"from": "listener", "to": "hostess"},
        {"from": "listener", "to": "hostess", "amount": 700, "currency": "EUR"},
    ]


async def test_the_same_tip_sent_twice_moves_money_once(people: Any) -> None:
    """A repeat with the same key answers the same payment and moves nothing more; the
    key reused for another amount is refused."""
    host, listener, room = await stage_and_listener(people)
    k = key()
    first = await tip(listener, room, amount=400, idempotency_key=k)
    again = await tip(listener, room, amount=400, idempotency_key=k)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["id"] == again.json()["id"]
    assert await balance(host) == 400
    other = await tip(listener, room, amount=401, idempotency_key=k)
    assert other.status_code == 409 and roomkit.code(other) == "idempotency_key_reused"
    tips = [e for e in await roomkit.events(host, room) if e["name"] == "tip.sent"]
    assert len(tips) == 1


async def test_only_people_on_stage_take_tips_and_only_from_the_room(people: Any) -> None:
    """A listener cannot be tipped, nor can anyone by someone outside the room, nor
    oneself; amounts outside the limits and other currencies are refused."""
    host, listener, room = await stage_and_listener(people)
    outsider = await people.member("outsider")
    r = await tip(host, room, to="listener")
    assert r.status_code == 409 and roomkit.code(r) == "not_on_stage"
    r = await tip(outsider, room)
    assert r.status_code == 403 and roomkit.code(r) == "not_in_room"
    r = await tip(host, room, to="hostess")
    assert r.status_code == 400 and roomkit.code(r) == "tip_to_self"
    r = await tip(listener, room, amount=1)
    assert r.status_code == 400 and roomkit.code(r) == "tip_out_of_range"
    r = await tip(listener, room, currency="JPY")
    assert r.status_code == 400 and roomkit.code(r) == "currency_not_accepted"
    r = await tip(listener, "nosuchroom")
    assert r.status_code == 404 and roomkit.code(r) == "room_not_found"
    assert await balance(host) == 0


async def test_the_data_export_holds_what_was_paid_and_earned(people: Any) -> None:
    """The tipper's export lists the payment; the person tipped has it as received and
    as a line of their earnings."""
    host, listener, room = await stage_and_listener(people)
    paid = (await tip(listener, room, amount=250)).json()
    mine = (await listener.get("/api/me/export")).json()["money"]
    assert [(p["id"], p["amount"]) for p in mine["paid"]] == [(paid["id"], 250)]
    theirs = (await host.get("/api/me/export")).json()["money"]
    assert [p["id"] for p in theirs["received"]] == [paid["id"]]
    assert [(x["kind"], x["amount"]) for x in theirs["ledger"]] == [("tip", 250)]
