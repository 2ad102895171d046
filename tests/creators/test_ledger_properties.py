"""Property-based tests of the ledger: whatever sequence of payments, refunds, payouts,
grants and repeats is written, every entry balances and every balance is the sum of its
entries (the model kept here, and the database's own audit)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townhall.app import Container
from townhall.domain import ledger
from townhall.errors import Conflict
from townhall.storage import ledger as store

PEOPLE = 3
amounts = st.integers(min_value=1, max_value=10**7)
operation = st.one_of(
    st.tuples(
        st.just("capture"),
        st.integers(0, PEOPLE - 1),
        amounts,
        st.integers(0, 10**5),
        st.integers(0, 10**4),
    ),
    st.tuples(st.just("refund"), st.integers(0, 50)),
    st.tuples(st.just("payout"), st.integers(0, PEOPLE - 1), amounts),
    st.tuples(st.just("grant"), st.integers(0, PEOPLE - 1), amounts),
    st.tuples(st.just("repeat"), st.integers(0, 50)),
)


class Model:
    """What the balances must be: the sum of every line written, per account."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.written: list[ledger.Posting] = []
        self.captures: list[tuple[ledger.Posting, int, ledger.Split]] = []

    def apply(self, p: ledger.Posting) -> None:
        self.written.append(p)
        for line in p.lines:
            self.balances[line.account] = self.balances.get(line.account, 0) + line.amount


def test_an_unbalanced_entry_cannot_be_made() -> None:
    """Lines that do not sum to zero, a float, a bad currency or one line are refused."""
    with pytest.raises(ledger.Unbalanced):
        ledger.posting("k", "x", "EUR", [("a", 5), ("b", -4)])
    with pytest.raises(ledger.Unbalanced):
        ledger.Posting("k", "x", "EUR", (ledger.Line("a", 1.5), ledger.Line("b", -1.5)))  # type: ignore[arg-type]
    with pytest.raises(ledger.Unbalanced):
        ledger.posting("k", "x", "eur", [("a", 5), ("b", -5)])
    with pytest.raises(ledger.Unbalanced):
        ledger.posting("k", "x", "EUR", [("a", 0), ("b", 0)])


@given(
    split=st.tuples(amounts, st.integers(0, 10**5), st.integers(0, 10**4)),
)
def test_a_capture_and_its_refund_balance_and_cancel_out_for_the_payee(
    split: tuple[int, int, int],
) -> None:
    """Each movement balances; a refund gives the payee back exactly their share."""
    amount, fee, platform = split
    s = ledger.Split(amount + platform, fee, platform)
    c = ledger.capture("c", "tip", "EUR", 1, s)
    r = ledger.refund("r", "EUR", 1, s)
    assert c.total == r.total == 0
    payee = ledger.person(1)
    assert sum(x.amount for x in (*c.lines, *r.lines) if x.account == payee) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=12))
async def test_any_sequence_keeps_every_entry_balanced_and_every_balance_the_sum(
    container: Container, steps: list[tuple[Any, ...]]
) -> None:
    """Payments, refunds (once each, however often asked), payouts within the balance,
    grants and repeats of earlier keys: the audit finds nothing, and each kept balance is
    what the lines written add up to."""
    ids = await people(container)
    model: Model = container.__dict__.setdefault("ledger_model", Model())
    now = container.clock.now()
    run = uuid.uuid4().hex[:8]
    for n, step in enumerate(steps):
        kind = step[0]
        key = f"prop:{run}:{n}"
        p: ledger.Posting | None = None
        if kind == "capture":
            _, who, amount, fee, platform = step
            s = ledger.Split(amount + platform, fee, platform)
            p = ledger.capture(key, "tip", "EUR", ids[who], s)
            model.captures.append((p, ids[who], s))
        elif kind == "refund" and model.captures:
            c, who, s = model.captures[step[1] % len(model.captures)]
            p = ledger.refund(c.key + ":refund", "EUR", who, s)
        elif kind == "payout":
            _, who, amount = step
            async with container.db.transaction() as tx:
                held = -await store.lock_account(tx, ledger.person(ids[who]), "EUR", now)
            if held >= amount:
                p = ledger.payout(key, "EUR", ids[who], amount)
        elif kind == "grant":
            p = ledger.grant(key, "EUR", ids[step[1]], step[2])
        elif kind == "repeat" and model.written:
            p = model.written[step[1] % len(model.written)]
        if p is None:
            continue
        async with container.db.transaction() as tx:
            written = await store.post(tx, p, now)
        if written.new:
            model.apply(p)
        else:
            assert any(w.key == p.key for w in model.written)
    async with container.db.transaction() as tx:
        audit = await store.audit(tx)
        kept = {a: await store.balance(tx, a, "EUR") for a in model.balances}
    assert audit.ok, audit
    assert kept == model.balances
    assert sum(kept.values()) == 0


async def people(container: Container) -> list[int]:
    found: list[int] | None = container.__dict__.get("ledger_people")
    if found is None:
        found = []
        for n in range(PEOPLE):
            user = await container.accounts.create_account(f"prop{n}@example.org", f"prop{n}")
            found.append(user.id)
        container.__dict__["ledger_people"] = found
    return found


async def test_a_key_written_for_one_movement_is_refused_for_another(container: Container) -> None:
    """The same key with other lines is a 409, and moves nothing."""
    user = await container.accounts.create_account("k@example.org", "keyed")
    now = container.clock.now()
    async with container.db.transaction() as tx:
        await store.post(tx, ledger.grant("same", "EUR", user.id, 100), now)
    with pytest.raises(Conflict):
        async with container.db.transaction() as tx:
            await store.post(tx, ledger.grant("same", "EUR", user.id, 101), now)
    async with container.db.transaction() as tx:
        assert await store.balance(tx, ledger.person(user.id), "EUR") == -100
