"""Money under concurrency: the same request sent many times at once, through two
application instances with their own connection pools (as two processes would be), moves
money once; two payouts at once cannot spend one balance twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.creators.kit import balance, key, reconciled, stage_and_listener, tip
from townhall.api.http import create_api
from townhall.app import Container, build_container
from townhall.domain import ledger
from townhall.storage import ledger as store

COPIES = 12


@pytest.fixture
async def second(container: Container) -> AsyncIterator[Container]:
    """Another instance on the same database and data directory, with its own engine."""
    other = build_container(container.settings, container.clock)
    await other.start()
    try:
        yield other
    finally:
        await other.close()


def as_client(container: Container, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(container), client=("127.0.0.1", 5000)),
        base_url="http://townhall.test",
        headers={"Authorization": token},
    )


async def test_the_same_tip_sent_at_once_through_two_instances_moves_money_once(
    people: Any, container: Container, second: Container
) -> None:
    """Twelve copies of one tip, half through each instance, all at once: one payment,
    one ledger entry, one room event, the person paid once."""
    host, listener, room = await stage_and_listener(people)
    token = listener.headers["Authorization"]
    k = key()
    async with as_client(container, token) as a, as_client(second, token) as b:
        answers = await asyncio.gather(
            *(tip(a if n % 2 else b, room, amount=600, idempotency_key=k) for n in range(COPIES))
        )
    assert [r.status_code for r in answers] == [200] * COPIES, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert await balance(host) == 600
    report = await reconciled(await people.admin())
    assert report["ok"], report
    assert report["entries"] == 1


async def test_one_posting_written_by_many_transactions_at_once_is_written_once(
    container: Container, second: Container
) -> None:
    """The ledger's own key: the same entry posted concurrently from two engines."""
    user = await container.accounts.create_account("c@example.org", "concurrent")
    p = ledger.grant("grant:concurrent", "EUR", user.id, 250)
    now = container.clock.now()

    async def post(c: Container) -> bool:
        async with c.db.transaction() as tx:
            return (await store.post(tx, p, now)).new

    news = await asyncio.gather(*(post(container if n % 2 else second) for n in range(COPIES)))
    assert sorted(news) == [False] * (COPIES - 1) + [True]
    async with container.db.transaction() as tx:
        assert await store.balance(tx, ledger.person(user.id), "EUR") == -250
        assert (await store.audit(tx)).ok


async def test_payouts_at_once_never_spend_more_than_the_balance(
    people: Any, container: Container, second: Container
) -> None:
    """A balance of 2,000 and six payouts of 1,000 asked at once: two are paid, the rest
    refused, the balance is zero and never below."""
    admin = await people.admin()
    creator = await people.member("creator")
    r = await admin.post(
        "/api/admin/grants",
        json={"username": "creator", "amount": 2000, "reason": "seed", "idempotency_key": key()},
    )
    assert r.status_code == 200, r.text
    token = creator.headers["Authorization"]
    async with as_client(container, token) as a, as_client(second, token) as b:
        answers = await asyncio.gather(
            *(
                (a if n % 2 else b).post(
                    "/api/me/payouts", json={"amount": 1000, "idempotency_key": key()}
                )
                for n in range(6)
            )
        )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200, 409, 409, 409, 409], [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {
        "insufficient_balance"
    }
    assert await balance(creator) == 0
    assert (await reconciled(admin))["unbalanced_entries"] == []
