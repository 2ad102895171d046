"""The ledger's rules (S10), on plain data: what an entry is, and the entries each
movement of money makes. Storage writes them (``storage.ledger``); nothing else does.

Invariants (docs/creators.md, "The ledger"):

1. Every amount is an integer number of minor units (cents) of one currency; no floats.
2. The lines of an entry are in the entry's currency and sum to zero: ``Posting`` refuses
   to exist otherwise, and ``storage.ledger.audit`` finds any entry in the database that
   does not.
3. An account's balance is the sum of its lines; the kept ``balance`` is written in the
   same transaction as the lines and checked against them by the audit.
4. An entry is written once for its idempotency key, whoever asks and however often.

Signs: a debit is positive (money the platform holds, at the provider, or spent), a
credit negative (money it owes). A person's earnings are a credit on their account, so
their balance is ``-account.balance``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CLEARING = "clearing"
"""Money held at the payment provider on the platform's behalf."""
PLATFORM = "platform"
"""The platform's own money: fees it keeps, provider fees it bears on a refund."""
GRANTS = "grants"
"""What staff grants cost the platform."""


def person(user_id: int) -> str:
    """The account of a person's earnings."""
    return f"user:{user_id}"


class Unbalanced(ValueError):
    """An entry whose lines do not sum to zero, or mix currencies: a programming error."""


@dataclass(frozen=True)
class Line:
    account: str
    amount: int


@dataclass(frozen=True)
class Posting:
    """A journal entry to write: balanced by construction."""

    key: str
    """The idempotency key: the same key is the same movement."""
    kind: str
    currency: str
    lines: tuple[Line, ...]
    memo: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isupper():
            raise Unbalanced(f"not a currency code: {self.currency!r}")
        if len(self.lines) < 2:
            raise Unbalanced("an entry has at least two lines")
        for line in self.lines:
            # bool is an int in Python; a float is never money.
            if type(line.amount) is not int:
                raise Unbalanced(f"amounts are integers of minor units: {line.amount!r}")
        if sum(line.amount for line in self.lines) != 0:
            raise Unbalanced(f"the lines of {self.key} sum to {self.total}, not zero")

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def fingerprint(self) -> str:
        """What the entry moves, hashed: a repeat of the key must move the same."""
        return fingerprint(
            {
                "kind": self.kind,
                "currency": self.currency,
                "lines": sorted((line.account, line.amount) for line in self.lines),
            }
        )


def fingerprint(data: Mapping[str, Any]) -> str:
    """A stable hash of a request's parameters (to tell a repeat from a reused key)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def posting(
    key: str, kind: str, currency: str, lines: Iterable[tuple[str, int]], **memo: Any
) -> Posting:
    """A ``Posting`` from (account, amount) pairs, leaving out zero amounts."""
    kept = tuple(Line(account, amount) for account, amount in lines if amount != 0)
    return Posting(key, kind, currency, kept, memo)


# --- the movements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """How a payment's gross divides: the payee's share, the platform's fee, the provider's."""

    amount: int
    """The price or the tip, before the provider's fee."""
    provider_fee: int
    platform_fee: int

    @property
    def gross(self) -> int:
        """What the payer is charged: the provider's fee is on top, so the whole amount
        reaches the payee (less the platform's fee, which tips never carry)."""
        return self.amount + self.provider_fee

    @property
    def payee_share(self) -> int:
        return self.amount - self.platform_fee


def capture(key: str, kind: str, currency: str, payee: int, split: Split, **memo: Any) -> Posting:
    """A payment arrived at the provider: the gross is held there, less the provider's fee;
    the payee is owed their share, the platform keeps its fee."""
    return posting(
        key,
        kind,
        currency,
        [
            (CLEARING, split.gross),
            (CLEARING, -split.provider_fee),
            (person(payee), -split.payee_share),
            (PLATFORM, -split.platform_fee),
        ],
        **memo,
    )


def refund(key: str, currency: str, payee: int, split: Split, **memo: Any) -> Posting:
    """The payer gets the whole gross back. The payee gives back their share and the
    platform its fee; the provider keeps its fee, which the platform bears."""
    return posting(
        key,
        "refund",
        currency,
        [
            (CLEARING, -split.gross),
            (person(payee), split.payee_share),
            (PLATFORM, split.platform_fee + split.provider_fee),
        ],
        **memo,
    )


def payout(key: str, currency: str, user_id: int, amount: int, **memo: Any) -> Posting:
    """Earnings leave for the person's bank: owed less, held less."""
    return posting(
        key, "payout", currency, [(person(user_id), amount), (CLEARING, -amount)], **memo
    )


def payout_returned(key: str, currency: str, user_id: int, amount: int, **memo: Any) -> Posting:
    """A payout the provider could not make: the earnings are owed again."""
    return posting(
        key, "payout_failed", currency, [(CLEARING, amount), (person(user_id), -amount)], **memo
    )


def grant(key: str, currency: str, user_id: int, amount: int, **memo: Any) -> Posting:
    """Staff give a person money from the platform's grants budget."""
    return posting(key, "grant", currency, [(GRANTS, amount), (person(user_id), -amount)], **memo)
