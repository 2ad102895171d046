"""The provider's webhooks: signed with the shared secret, refused when stale or forged,
acted on once however often they come, and in whatever order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api import roomkit
from tests.creators.kit import balance, reconciled, stage_and_listener, tip
from townhall.app import Container
from townhall.domain.payments import webhooks
from townhall.domain.payments.local import LocalProvider

WEBHOOK = pytest.mark.settings(payments_local_confirm="webhook")


def provider(container: Container) -> LocalProvider:
    p = container.creators.provider
    assert isinstance(p, LocalProvider)
    return p


async def deliver(client: httpx.AsyncClient, body: bytes, signature: str) -> httpx.Response:
    return await client.post(
        "/api/payments/webhook",
        content=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def pending_tip(listener: httpx.AsyncClient, room: str, amount: int = 500) -> dict[str, Any]:
    r = await tip(listener, room, amount=amount)
    assert r.status_code == 200, r.text
    paid: dict[str, Any] = r.json()
    assert paid["status"] == "requires_action" and paid["client_secret"]
    return paid


def intent_of(payment: dict[str, Any]) -> str:
    return str(payment["client_secret"]).split("_secret_", 1)[0]


@WEBHOOK
async def test_a_payment_confirmed_later_is_settled_by_its_webhook_once(
    people: Any, container: Container, client: httpx.AsyncClient
) -> None:
    """Nothing moves until the provider's signed webhook says the payment succeeded; the
    same event delivered again is a duplicate and moves nothing."""
    host, listener, room = await stage_and_listener(people)
    paid = await pending_tip(listener, room)
    assert await balance(host) == 0
    body, signature = await provider(container).confirm(intent_of(paid))
    first = await deliver(client, body, signature)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "handled"
    again = await deliver(client, body, signature)
    assert again.json()["result"] == "duplicate"
    assert await balance(host) == 500
    now = (await listener.get(f"/api/me/payments/{paid['id']}")).json()
    assert now["status"] == "succeeded" and now["client_secret"] is None
    tips = [e for e in await roomkit.events(host, room) if e["name"] == "tip.sent"]
    assert len(tips) == 1
    assert (await reconciled(await people.admin()))["ok"]


@WEBHOOK
async def test_forged_stale_and_malformed_webhooks_are_refused(
    people: Any, container: Container, client: httpx.AsyncClient
) -> None:
    """A wrong signature, a missing one, one signed outside the tolerance (a replay), and
    a body that is no event are 400s, and move nothing."""
    host, listener, room = await stage_and_listener(people)
    paid = await pending_tip(listener, room)
    body, signature = await provider(container).confirm(intent_of(paid))
    forged = webhooks.sign(b"not the secret", body, int(container.clock.now().timestamp()))
    r = await deliver(client, body, forged)
    assert r.status_code == 400 and roomkit.code(r) == "webhook_signature_invalid"
    r = await deliver(client, body.replace(b"succeeded", b"canceled"), signature)
    assert r.status_code == 400 and roomkit.code(r) == "webhook_signature_invalid"
    r = await client.post(
        "/api/payments/webhook", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and roomkit.code(r) == "webhook_signature_missing"
    people.clock.advance(seconds=container.settings.payments_webhook_tolerance_seconds + 1)
    r = await deliver(client, body, signature)
    assert r.status_code == 400 and roomkit.code(r) == "webhook_signature_expired"
    at = int(container.clock.now().timestamp())
    junk = b'{"hello": "world"}'
    r = await deliver(client, junk, webhooks.sign(secret_of(container), junk, at))
    assert r.status_code == 400 and roomkit.code(r) == "webhook_malformed"
    assert await balance(host) == 0


def secret_of(container: Container) -> bytes:
    return container.creators._webhook_secret


@WEBHOOK
async def test_events_out_of_order_end_in_the_same_state(
    people: Any, container: Container, client: httpx.AsyncClient
) -> None:
    """A refund heard before the success it follows settles then refunds; the success
    arriving late, and a failure after a success, change nothing."""
    host, listener, room = await stage_and_listener(people)
    local = provider(container)
    first = await pending_tip(listener, room, 500)
    second = await pending_tip(listener, room, 800)
    # The first: its refund comes before its success.
    succeeded, succeeded_sig = await local.confirm(intent_of(first))
    refunded, refunded_sig = local.event(
        "charge.refunded",
        {
            "id": "ch_local_1",
            "object": "charge",
            "payment_intent": intent_of(first),
            "amount_refunded": first["total"],
        },
    )
    assert (await deliver(client, refunded, refunded_sig)).json()["result"] == "handled"
    assert (await deliver(client, succeeded, succeeded_sig)).json()["result"] == "handled"
    state = (await listener.get(f"/api/me/payments/{first['id']}")).json()
    assert state["status"] == "refunded"
    # The second: succeeded, then a stale failure.
    ok, ok_sig = await local.confirm(intent_of(second))
    failed, failed_sig = local.event(
        "payment_intent.payment_failed",
        {"id": intent_of(second), "object": "payment_intent", "amount": second["total"]},
    )
    await deliver(client, ok, ok_sig)
    await deliver(client, failed, failed_sig)
    state = (await listener.get(f"/api/me/payments/{second['id']}")).json()
    assert state["status"] == "succeeded"
    assert await balance(host) == 800
    kinds = [h["kind"] for h in (await host.get("/api/me/earnings")).json()["history"]]
    assert sorted(kinds) == ["refund", "tip", "tip"]


@WEBHOOK
async def test_a_declined_payment_fails_and_moves_nothing(
    people: Any, container: Container, client: httpx.AsyncClient
) -> None:
    """The provider's failure webhook marks the payment failed; no money moves."""
    host, listener, room = await stage_and_listener(people)
    paid = await pending_tip(listener, room)
    body, signature = await provider(container).confirm(intent_of(paid), succeed=False)
    assert (await deliver(client, body, signature)).status_code == 200
    state = (await listener.get(f"/api/me/payments/{paid['id']}")).json()
    assert state["status"] == "failed"
    assert await balance(host) == 0
