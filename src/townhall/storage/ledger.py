"""The ledger's SQL: writing an entry once for its key, balances, and the audit that
checks the stored ledger against its invariants (``domain.ledger``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.domain.ledger import Posting
from townhall.errors import Conflict
from townhall.storage.models import JournalEntry, JournalLine, LedgerAccount


def insert_once(tx: AsyncSession, model: Any, **values: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the row's id, or None when a
    row with the same unique key exists (committed, or being written by a transaction
    this one then waits for: PostgreSQL decides when that one ends)."""
    dialect = tx.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).values(**values).on_conflict_do_nothing().returning(model.id)


def _kind(key: str) -> str:
    return key.split(":", 1)[0]


async def account(tx: AsyncSession, key: str, currency: str, now: datetime) -> LedgerAccount:
    """The account ``key`` in ``currency``, opened on first use."""
    user_id = int(key.split(":", 1)[1]) if key.startswith("user:") else None
    await tx.execute(
        insert_once(
            tx,
            LedgerAccount,
            key=key,
            currency=currency,
            kind=_kind(key),
            user_id=user_id,
            balance=0,
            created_at=now,
        )
    )
    found = await tx.scalar(
        select(LedgerAccount).where(LedgerAccount.key == key, LedgerAccount.currency == currency)
    )
    assert found is not None
    return found


async def lock_account(tx: AsyncSession, key: str, currency: str, now: datetime) -> int:
    """Take ``key``'s row lock (PostgreSQL; SQLite writes one at a time) and return its
    balance as of now: for movements that must not overdraw it."""
    found = await account(tx, key, currency, now)
    locked = await tx.scalar(
        select(LedgerAccount.balance)
        .where(LedgerAccount.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return int(locked or 0)


@dataclass(frozen=True)
class Written:
    entry: JournalEntry
    new: bool
    """False when the key had been written before: nothing moved this time."""


async def post(tx: AsyncSession, p: Posting, now: datetime) -> Written:
    """Write ``p`` unless its key has been: the entry, and whether it is new. A key
    written before for a different movement is a 409 ``idempotency_key_reused``."""
    entry_id = await tx.scalar(
        insert_once(
            tx,
            JournalEntry,
            idempotency_key=p.key,
            fingerprint=p.fingerprint,
            kind=p.kind,
            currency=p.currency,
            memo=dict(p.memo),
            created_at=now,
        )
    )
    if entry_id is None:
        existing = await tx.scalar(
            select(JournalEntry).where(JournalEntry.idempotency_key == p.key)
        )
        assert existing is not None
        if existing.fingerprint != p.fingerprint:
            raise Conflict(
                "idempotency_key_reused", "That key was used for a different movement of money."
            )
        return Written(existing, False)
    accounts = {line.account: await account(tx, line.account, p.currency, now) for line in p.lines}
    tx.add_all(
        JournalLine(
            entry_id=entry_id,
            account_id=accounts[line.account].id,
            amount=line.amount,
            currency=p.currency,
        )
        for line in p.lines
    )
    deltas: dict[int, int] = {}
    for line in p.lines:
        deltas[accounts[line.account].id] = deltas.get(accounts[line.account].id, 0) + line.amount
    # In the order of the accounts' ids, so two entries never wait on each other's rows.
    for account_id in sorted(deltas):
        await tx.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id)
            .values(balance=LedgerAccount.balance + deltas[account_id])
        )
    await tx.flush()
    entry = await tx.get(JournalEntry, entry_id)
    assert entry is not None
    return Written(entry, True)


async def balance(tx: AsyncSession, key: str, currency: str) -> int:
    """The kept balance of ``key`` (0 for an account never used)."""
    value = await tx.scalar(
        select(LedgerAccount.balance)
        .where(LedgerAccount.key == key, LedgerAccount.currency == currency)
        .execution_options(populate_existing=True)
    )
    return int(value or 0)


async def balances(tx: AsyncSession, key: str) -> dict[str, int]:
    """Currency → kept balance of ``key``'s accounts."""
    rows = await tx.execute(
        select(LedgerAccount.currency, LedgerAccount.balance).where(LedgerAccount.key == key)
    )
    return {currency: int(b) for currency, b in rows}


async def lines_of(
    tx: AsyncSession, key: str, limit: int, before: int | None = None
) -> Sequence[tuple[JournalLine, JournalEntry]]:
    """``key``'s lines, newest first, with their entries."""
    q = (
        select(JournalLine, JournalEntry)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(LedgerAccount.key == key)
        .order_by(JournalLine.id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(JournalLine.id < before)
    return [(line, entry) for line, entry in (await tx.execute(q)).all()]


@dataclass(frozen=True)
class Audit:
    """What the stored ledger breaks, if anything (empty lists: nothing)."""

    unbalanced_entries: list[str]
    """Keys of entries whose lines do not sum to zero (or are not all in its currency)."""
    drifted_accounts: list[str]
    """``key/currency`` of accounts whose kept balance is not the sum of their lines."""
    entries: int
    accounts: int

    @property
    def ok(self) -> bool:
        return not self.unbalanced_entries and not self.drifted_accounts


async def audit(tx: AsyncSession) -> Audit:
    """Check every entry and every account against the invariants, in one read."""
    sums = (
        select(
            JournalLine.entry_id,
            func.sum(JournalLine.amount).label("total"),
            func.count(JournalLine.id).label("n"),
        )
        .group_by(JournalLine.entry_id)
        .subquery()
    )
    wrong_currency = (
        select(JournalLine.entry_id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalLine.currency != JournalEntry.currency)
    )
    unbalanced = await tx.scalars(
        select(JournalEntry.idempotency_key)
        .outerjoin(sums, sums.c.entry_id == JournalEntry.id)
        .where(
            (sums.c.total != 0)
            | (sums.c.n.is_(None))
            | (sums.c.n < 2)
            | JournalEntry.id.in_(wrong_currency)
        )
        .order_by(JournalEntry.id)
    )
    per_account = (
        select(JournalLine.account_id, func.sum(JournalLine.amount).label("total"))
        .group_by(JournalLine.account_id)
        .subquery()
    )
    drifted = await tx.execute(
        select(LedgerAccount.key, LedgerAccount.currency)
        .outerjoin(per_account, per_account.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance != func.coalesce(per_account.c.total, 0))
        .order_by(LedgerAccount.id)
    )
    entries = await tx.scalar(select(func.count(JournalEntry.id)))
    accounts = await tx.scalar(select(func.count(LedgerAccount.id)))
    return Audit(
        unbalanced_entries=list(unbalanced),
        drifted_accounts=[f"{k}/{c}" for k, c in drifted],
        entries=int(entries or 0),
        accounts=int(accounts or 0),
    )
