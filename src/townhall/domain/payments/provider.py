"""The payment-provider adapter: what Townhall asks of a provider, and what it hears back.

Townhall never sees a card. A payment is a *payment intent* the provider creates for an
amount; the payer confirms it in the provider's own page or widget (``client_secret``), and
the provider says how it went, at once in the answer or later in a signed webhook. Refunds
and payouts are asked for the same way. Every call carries an idempotency key, so a call
repeated after a timeout (or by two processes at once) does the thing once.

Two implementations: ``stripe.StripeProvider`` (Stripe's API) and ``local.LocalProvider``
(development and tests: the provider is outside this machine). Both speak Stripe's webhook
format, read by ``webhooks.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

IntentStatus = Literal["requires_action", "processing", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class Intent:
    id: str
    status: IntentStatus
    amount: int
    """The gross the payer is charged, in minor units."""
    currency: str
    client_secret: str | None = None
    """What the payer's browser confirms the intent with (None once it needs nothing)."""


@dataclass(frozen=True)
class Refund:
    id: str
    intent_id: str
    amount: int
    status: Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class PayoutResult:
    id: str
    amount: int
    currency: str
    status: Literal["pending", "paid", "failed"]


class ProviderError(Exception):
    """The provider refused or could not be reached; ``retryable`` when trying again with
    the same idempotency key may succeed."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class PaymentProvider(Protocol):
    """What Townhall needs of a payment provider (docs/creators.md, "The provider")."""

    name: str
    """Stored with each payment: ``stripe`` or ``local``."""

    def fee(self, amount: int, currency: str) -> int:
        """The provider's fee on a payment that must leave ``amount`` after it (the payer
        pays it on top; shown before paying)."""
        ...

    async def create_intent(
        self, *, amount: int, currency: str, key: str, metadata: dict[str, str]
    ) -> Intent:
        """A payment intent for ``amount`` (gross); the same ``key`` gives the same intent."""
        ...

    async def retrieve_intent(self, intent_id: str) -> Intent:
        """The intent as the provider has it now (reconciliation)."""
        ...

    async def refund(self, *, intent_id: str, amount: int, key: str) -> Refund:
        """Give ``amount`` of a succeeded intent back to the payer."""
        ...

    async def payout(
        self, *, amount: int, currency: str, destination: str, key: str
    ) -> PayoutResult:
        """Send ``amount`` to a creator's account at the provider (``destination``)."""
        ...

    async def balance(self, currency: str) -> int:
        """What the provider holds for the platform in ``currency``."""
        ...

    async def close(self) -> None: ...


def covering_fee(amount: int, percent_bps: int, fixed: int) -> int:
    """The fee that, charged on top, leaves ``amount`` once the provider takes its
    ``percent_bps`` (hundredths of a percent) of the gross plus ``fixed``: the gross is
    ``(amount + fixed) / (1 - rate)``, rounded up to a whole minor unit."""
    gross = -(-(amount + fixed) * 10_000 // (10_000 - percent_bps))
    return gross - amount


def charged_fee(gross: int, percent_bps: int, fixed: int) -> int:
    """What the provider takes of a ``gross`` charge, rounded down: never more than
    ``covering_fee`` allowed for, so the payee's amount is always there."""
    return gross * percent_bps // 10_000 + fixed
