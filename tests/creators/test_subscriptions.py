"""Paid club subscriptions (S10): monthly, renewed, grace after a failed renewal, then
expiry; cancellation at the period's end; subscribers get the members-only rooms."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api import clubkit, roomkit
from tests.creators.kit import balance, key, reconciled
from townhall.app import Container
from townhall.domain.payments.local import LocalProvider
from townhall.domain.subscriptions import next_month

pytestmark = pytest.mark.settings(club_found_min_rooms_hosted=0)


async def paid_club(
    people: Any, price: int = 800, policy: str = "invitation"
) -> tuple[httpx.AsyncClient, int, str]:
    """A founder, their club at ``price`` a month, and a members-only room in it."""
    founder = await people.member("founder")
    club = await clubkit.found(founder, "Paid Jazz", policy=policy)
    r = await founder.put(f"/api/clubs/{club['id']}/subscription/plan", json={"price": price})
    assert r.status_code == 200, r.text
    room = await roomkit.create(founder, club=club["id"], members_only=True)
    return founder, club["id"], room["id"]


async def subscription(client: httpx.AsyncClient, club: int) -> dict[str, Any]:
    r = await client.get(f"/api/clubs/{club}/subscription")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_subscriber_gets_the_members_only_rooms_and_the_founder_is_paid(
    people: Any,
) -> None:
    """Paying the first month makes them a member: the members-only room that refused
    them lets them in; the founder earns the price."""
    founder, club, room = await paid_club(people)
    fan = await people.member("fan")
    r = await fan.post(f"/api/rooms/{room}/join")
    assert r.status_code == 403 and roomkit.code(r) == "club_members_only"
    r = await fan.post(f"/api/clubs/{club}/subscription", json={"idempotency_key": key()})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    s = await subscription(fan, club)
    assert s["status"] == "active" and s["price"] == 800
    assert (await clubkit.club(fan, club))["my_role"] == "member"
    await roomkit.join(fan, room)
    assert await balance(founder) == 800
    r = await fan.post(f"/api/clubs/{club}/subscription", json={"idempotency_key": key()})
    assert r.status_code == 409 and roomkit.code(r) == "already_subscribed"


async def test_it_renews_monthly_and_a_cancelled_one_ends_at_the_period(
    people: Any, container: Container
) -> None:
    """The sweep renews at the period's end (the founder paid again); cancelled, the
    month runs out and the membership the subscription gave goes with it."""
    founder, club, _ = await paid_club(people)
    fan = await people.member("fan")
    await fan.post(f"/api/clubs/{club}/subscription", json={"idempotency_key": key()})
    first_end = (await subscription(fan, club))["current_period_end"]
    people.clock.current = next_month(people.clock.now())
    await container.subscriptions.sweep()
    await container.subscriptions.sweep()  # a second round renews nothing more
    s = await subscription(fan, club)
    assert s["status"] == "active" and s["current_period_end"] > first_end
    assert await balance(founder) == 1600
    r = await fan.delete(f"/api/clubs/{club}/subscription")
    assert r.status_code == 200 and r.json()["cancel_at_period_end"] is True
    await container.subscriptions.sweep()
    assert (await clubkit.club(fan, club))["my_role"] == "member"  # still paid for
    people.clock.current = next_month(people.clock.now())
    await container.subscriptions.sweep()
    assert (await subscription(fan, club))["status"] == "canceled"
    assert (await clubkit.club(fan, club))["my_role"] is None
    assert await balance(founder) == 1600
    assert (await reconciled(await people.admin()))["ok"]


async def test_a_failed_renewal_keeps_access_in_grace_then_expires(
    people: Any, container: Container
) -> None:
    """A declined renewal makes it past due with access kept for the grace days; paid
    within them it is active again; declined throughout, it expires and the membership
    goes."""
    founder, club, room = await paid_club(people)
    local = container.creators.provider
    assert isinstance(local, LocalProvider)
    fan = await people.member("fan")
    await fan.post(f"/api/clubs/{club}/subscription", json={"idempotency_key": key()})
    end = next_month(people.clock.now())
    people.clock.current = end
    local.declining = True
    await container.subscriptions.sweep()
    s = await subscription(fan, club)
    assert s["status"] == "past_due" and s["grace_until"] is not None
    await roomkit.join(fan, room)  # access kept in grace
    people.clock.advance(days=1)
    local.declining = False
    await container.subscriptions.sweep()
    assert (await subscription(fan, club))["status"] == "active"
    assert await balance(founder) == 1600
    # The next month: declined every day of the grace.
    people.clock.current = next_month(end)
    local.declining = True
    grace = container.settings.payments_subscription_grace_days
    for _ in range(grace + 1):
        await container.subscriptions.sweep()
        people.clock.advance(days=1)
    await container.subscriptions.sweep()
    assert (await subscription(fan, club))["status"] == "expired"
    assert (await clubkit.club(fan, club))["my_role"] is None
    assert await balance(founder) == 1600
