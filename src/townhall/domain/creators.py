"""Creators (S10): tips, payments through the provider, payouts, staff grants and the
reconciliation of the ledger with the provider (docs/creators.md).

A payment goes through three steps, each safe to repeat:

1. ``_open``: the payment row, once for the payer's idempotency key (a repeat with other
   parameters is a 409), in its own transaction.
2. The provider's intent, asked for with a key made of the payment's id, so a repeat (a
   retried request, a second process) gets the same intent. No transaction is open while
   the provider is called.
3. ``_apply``: what the provider says (in its answer or a webhook, in any order, any
   number of times) moves the payment forward, never back, and writes its ledger entry
   under a key made of the payment's id: money moves once.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import ledger, usernames
from townhall.domain.payments import webhooks
from townhall.domain.payments.provider import Intent, PaymentProvider, ProviderError
from townhall.domain.rooms.events import Outbox
from townhall.domain.rooms.service import Rooms
from townhall.domain.standing import require_good_standing
from townhall.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, Unavailable
from townhall.storage import ledger as ledger_store
from townhall.storage import payments as store
from townhall.storage import rooms as room_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Payment, Payout, User
from townhall.vocabulary import STAGE_ROLES

logger = logging.getLogger(__name__)

KEY = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
"""An idempotency key as clients send it (a UUID fits)."""

OPEN = ("pending", "requires_action", "processing")
"""A payment's statuses before the provider said how it went."""

Settled = Callable[[AsyncSession, Payment], Awaitable[Outbox | None]]
"""What a purpose does, in the payment's transaction, once it has succeeded (a ticket is
issued, a subscription renewed); it may return room events to publish after commit."""


@dataclass(frozen=True)
class Quote:
    amount: int
    fee: int
    currency: str

    @property
    def total(self) -> int:
        return self.amount + self.fee


@dataclass(frozen=True)
class PaymentView:
    id: str
    purpose: str
    status: str
    amount: int
    fee: int
    total: int
    currency: str
    to: str | None
    client_secret: str | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class PayoutView:
    id: str
    status: str
    amount: int
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryLine:
    id: int
    kind: str
    amount: int
    """Signed from the person's side: positive is money they received."""
    currency: str
    memo: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Earnings:
    balances: dict[str, int]
    """Currency → what the person may be paid out (their account's credit)."""
    payout_min: int
    history: list[HistoryLine]
    payouts: list[PayoutView]


@dataclass(frozen=True)
class Reconciliation:
    ok: bool
    entries: int
    accounts: int
    unbalanced_entries: list[str]
    drifted_accounts: list[str]
    clearing: dict[str, dict[str, int]]
    """Currency → {"ledger": what the ledger says is held at the provider,
    "provider": what the provider says it holds, "difference"}."""
    mismatched_payments: list[dict[str, str]] = field(default_factory=list)
    """Payments whose status here is not the provider's (a webhook not yet arrived)."""


def _now_key() -> str:
    return secrets.token_urlsafe(16)


class Creators:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        provider: PaymentProvider,
        rooms: Rooms,
        webhook_secret: bytes,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self.provider = provider
        self._rooms = rooms
        self._webhook_secret = webhook_secret
        self._settled: dict[str, Settled] = {"tip": self._tip_settled}
        self._refunded: dict[str, Settled] = {}
        self._failed: dict[str, Settled] = {}

    def on_settled(self, purpose: str, work: Settled) -> None:
        self._settled[purpose] = work

    def on_refunded(self, purpose: str, work: Settled) -> None:
        self._refunded[purpose] = work

    def on_failed(self, purpose: str, work: Settled) -> None:
        self._failed[purpose] = work

    def platform_fee(self, amount: int) -> int:
        """The platform's share of a ticket or a subscription (never of a tip)."""
        return amount * self._settings.payments_platform_fee_bps // 10_000

    # --- checks ------------------------------------------------------------------------------

    def currency(self, code: str | None) -> str:
        code = code or self._settings.payments_currencies[0]
        if code not in self._settings.payments_currencies:
            raise InvalidInput(
                "currency_not_accepted",
                f"This server takes {', '.join(self._settings.payments_currencies)}.",
            )
        return code

    @staticmethod
    def key(raw: str) -> str:
        if not KEY.match(raw):
            raise InvalidInput(
                "invalid_idempotency_key", "An idempotency key is 8-100 of A-Z a-z 0-9 _ -."
            )
        return raw

    def quote(self, amount: int, currency: str | None) -> Quote:
        """What paying ``amount`` costs with the provider's fee on top."""
        code = self.currency(currency)
        if amount < 1:
            raise InvalidInput("amount_too_small", "The amount must be at least 1.")
        return Quote(amount, self.provider.fee(amount, code), code)

    # --- tips --------------------------------------------------------------------------------

    async def tip(
        self,
        user: User,
        *,
        room_id: str,
        to: str,
        amount: int,
        currency: str | None,
        show_amount: bool,
        key: str,
    ) -> PaymentView:
        """Tip someone on stage in a room the tipper is in; the whole amount reaches them."""
        s = self._settings
        if not s.payments_tip_min <= amount <= s.payments_tip_max:
            raise InvalidInput(
                "tip_out_of_range",
                f"A tip is between {s.payments_tip_min} and {s.payments_tip_max} minor units.",
            )
        quote = self.quote(amount, currency)
        self.key(key)
        async with self._db.transaction() as tx:
            require_good_standing(user, self._clock.now())
            room = await room_store.room(tx, room_id)
            if room is None:
                raise NotFound("room_not_found", "There is no such room.")
            if room.status != "live":
                raise Gone("room_ended", "This room has ended.")
            if await room_store.member(tx, room_id, user.id) is None:
                raise Forbidden("not_in_room", "Join the room first.")
            payee = await usernames.find(tx, to)
            on_stage = payee and await room_store.member(tx, room_id, payee.id)
            if payee is None or not on_stage or on_stage.role not in STAGE_ROLES:
                raise Conflict("not_on_stage", f"@{to} is not on this room's stage.")
            if payee.id == user.id:
                raise InvalidInput("tip_to_self", "You cannot tip yourself.")
            payment = await self.open(
                tx,
                user,
                key,
                purpose="tip",
                payee_id=payee.id,
                quote=quote,
                platform_fee=0,
                details={"room": room_id, "show_amount": show_amount},
            )
        return await self.charge(payment)

    async def _tip_settled(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        """The room hears of a tip that went through (its amount if the tipper chose so)."""
        ids = [i for i in (payment.payer_id, payment.payee_id) if i is not None]
        people = await user_store.by_ids(tx, ids)
        payer = people.get(payment.payer_id) if payment.payer_id else None
        payee = people.get(payment.payee_id) if payment.payee_id else None
        data: dict[str, Any] = {
            "from": payer.username if payer else None,
            "to": payee.username if payee else None,
        }
        if payment.details.get("show_amount"):
            data.update(amount=payment.amount, currency=payment.currency)
        return await self._rooms.announce(tx, str(payment.details["room"]), "tip.sent", data)

    # --- the steps of a payment -------------------------------------------------------------

    async def open(
        self,
        tx: AsyncSession,
        user: User,
        key: str,
        *,
        purpose: str,
        payee_id: int | None,
        quote: Quote,
        platform_fee: int,
        details: dict[str, Any],
    ) -> Payment:
        """The payment for the payer's ``key``: made now, or the one made before (a 409 when
        it was for something else)."""
        now = self._clock.now()
        asked = ledger.fingerprint(
            {
                "purpose": purpose,
                "payee": payee_id,
                "amount": quote.amount,
                "currency": quote.currency,
                "details": details,
            }
        )
        payment, new = await store.open_once(
            tx,
            Payment,
            public_id=_now_key(),
            request_key=f"{user.id}:{key}",
            fingerprint=asked,
            purpose=purpose,
            payer_id=user.id,
            payee_id=payee_id,
            amount=quote.amount,
            fee=quote.fee,
            platform_fee=platform_fee,
            currency=quote.currency,
            status="pending",
            refunded=0,
            provider=self.provider.name,
            details=details,
            created_at=now,
            updated_at=now,
        )
        if not new and payment.fingerprint != asked:
            raise Conflict("idempotency_key_reused", "That key was used for a different payment.")
        return payment

    async def charge(self, payment: Payment) -> PaymentView:
        """Ask the provider for the payment's intent (again, for a repeat: the same key
        gives the same intent) and apply what it says."""
        if payment.status in OPEN:
            try:
                intent = await self.provider.create_intent(
                    amount=payment.amount + payment.fee,
                    currency=payment.currency,
                    key=f"townhall-payment-{payment.public_id}",
                    metadata={
                        "townhall_payment": payment.public_id,
                        "purpose": payment.purpose,
                        "net": str(payment.amount),
                    },
                )
            except ProviderError as exc:
                logger.warning("creating the intent of %s failed: %s", payment.public_id, exc)
                raise Unavailable(
                    "payment_provider_unavailable",
                    "The payment provider could not be reached; send the same request again.",
                ) from exc
            await self._apply_intent(payment.id, intent)
        return await self.payment(payment.payer_id, payment.public_id)

    async def _apply_intent(self, payment_id: int, intent: Intent) -> None:
        outbox: Outbox | None = None
        async with self._db.transaction() as tx:
            payment = await store.lock_payment(tx, payment_id)
            assert payment is not None
            if payment.intent_id is None:
                payment.intent_id = intent.id
            if intent.client_secret:
                payment.client_secret = intent.client_secret
            outbox = await self._apply(tx, payment, intent.status)
        if outbox is not None:
            await self._rooms.publish(outbox)

    async def _apply(self, tx: AsyncSession, payment: Payment, status: str) -> Outbox | None:
        """Move ``payment`` (row locked) to what the provider says, forward only: a success
        writes its entry and does its purpose's work; a failure after a success, or a
        second success, changes nothing."""
        now = self._clock.now()
        if status == "succeeded" and payment.status in (*OPEN, "failed", "canceled"):
            await ledger_store.post(tx, self._capture(payment), now)
            payment.status = "succeeded"
            payment.client_secret = None
            payment.updated_at = now
            work = self._settled.get(payment.purpose)
            return await work(tx, payment) if work else None
        if status in ("failed", "canceled", "processing", "requires_action") and (
            payment.status in OPEN
        ):
            payment.status = status
            payment.updated_at = now
            failed = self._failed.get(payment.purpose)
            if status in ("failed", "canceled") and failed is not None:
                await failed(tx, payment)
        return None

    def _split(self, payment: Payment) -> ledger.Split:
        return ledger.Split(payment.amount, payment.fee, payment.platform_fee)

    def _capture(self, payment: Payment) -> ledger.Posting:
        assert payment.payee_id is not None or payment.platform_fee == payment.amount
        return ledger.capture(
            f"payment:{payment.public_id}:capture",
            payment.purpose,
            payment.currency,
            payment.payee_id or 0,
            self._split(payment),
            payment=payment.public_id,
            payer=payment.payer_id,
        )

    async def payment(self, payer_id: int | None, public_id: str) -> PaymentView:
        """One of the payer's payments."""
        async with self._db.transaction() as tx:
            p = await store.payment_by_public_id(tx, public_id)
            if p is None or p.payer_id is None or p.payer_id != payer_id:
                raise NotFound("payment_not_found", "There is no such payment of yours.")
            payee = await user_store.by_id(tx, p.payee_id) if p.payee_id else None
            return _view(p, payee.username if payee else None)

    # --- refunds ------------------------------------------------------------------------------

    async def refund(self, payment_id: int, reason: str) -> bool:
        """Give a succeeded payment's whole gross back; True when it is (or was) refunded,
        False when it never succeeded. Safe to repeat: the provider's refund and the
        ledger's entry are keyed. Raises ``Unavailable`` when the provider cannot (the
        outbox tries again)."""
        async with self._db.transaction() as tx:
            payment = await store.lock_payment(tx, payment_id)
            if payment is None or payment.status not in ("succeeded", "refunded"):
                return False
            if payment.status == "refunded":
                return True
            intent_id, gross = payment.intent_id, payment.amount + payment.fee
        assert intent_id is not None
        try:
            await self.provider.refund(
                intent_id=intent_id, amount=gross, key=f"townhall-refund-{payment.public_id}"
            )
        except ProviderError as exc:
            logger.warning("refunding %s failed: %s", payment.public_id, exc)
            raise Unavailable(
                "payment_provider_unavailable", "The payment provider could not be reached."
            ) from exc
        await self._refunded_now(payment.id, reason)
        return True

    async def _refunded_now(self, payment_id: int, reason: str) -> None:
        async with self._db.transaction() as tx:
            payment = await store.lock_payment(tx, payment_id)
            assert payment is not None
            await self._apply_refund(tx, payment, reason)

    async def _apply_refund(self, tx: AsyncSession, payment: Payment, reason: str) -> None:
        now = self._clock.now()
        if payment.status == "refunded":
            return
        if payment.status != "succeeded":
            # A refund heard before the success it follows: the success happened first.
            await self._apply(tx, payment, "succeeded")
        await ledger_store.post(
            tx,
            ledger.refund(
                f"payment:{payment.public_id}:refund",
                payment.currency,
                payment.payee_id or 0,
                self._split(payment),
                payment=payment.public_id,
                reason=reason,
            ),
            now,
        )
        payment.status = "refunded"
        payment.refunded = payment.amount + payment.fee
        payment.updated_at = now
        work = self._refunded.get(payment.purpose)
        if work is not None:
            await work(tx, payment)

    # --- webhooks -----------------------------------------------------------------------------

    async def webhook(self, body: bytes, signature: str | None) -> str:
        """Take a provider's webhook: verified, each event once, in any order. Returns what
        was done (``handled``, ``duplicate``, ``ignored``)."""
        webhooks.verify(
            self._webhook_secret,
            body,
            signature,
            self._clock.now(),
            self._settings.payments_webhook_tolerance_seconds,
        )
        event = webhooks.parse(body)
        obj = event.object
        outbox: Outbox | None = None
        async with self._db.transaction() as tx:
            if not await store.first_delivery(
                tx, event.id, event.type, event.created, self._clock.now()
            ):
                return "duplicate"
            if event.type.startswith("payment_intent."):
                outbox = await self._intent_event(tx, event.type, obj)
            elif event.type == "charge.refunded":
                await self._refund_event(tx, obj)
            elif event.type in ("transfer.reversed", "payout.failed"):
                await self._payout_failed(tx, str(obj.get("id", "")))
            else:
                return "ignored"
        if outbox is not None:
            await self._rooms.publish(outbox)
        return "handled"

    async def _intent_event(
        self, tx: AsyncSession, kind: str, obj: dict[str, Any]
    ) -> Outbox | None:
        status = {
            "payment_intent.succeeded": "succeeded",
            "payment_intent.payment_failed": "failed",
            "payment_intent.canceled": "canceled",
            "payment_intent.processing": "processing",
        }.get(kind)
        raw = obj.get("metadata")
        metadata: dict[str, Any] = raw if isinstance(raw, dict) else {}
        payment = await store.payment_for_intent(
            tx, str(obj.get("id", "")), str(metadata.get("townhall_payment") or "") or None
        )
        if status is None or payment is None:
            return None
        if payment.intent_id is None:
            payment.intent_id = str(obj.get("id"))
        if obj.get("amount") != payment.amount + payment.fee:
            logger.warning("intent %s is for another amount; left alone", obj.get("id"))
            return None
        return await self._apply(tx, payment, status)

    async def _refund_event(self, tx: AsyncSession, obj: dict[str, Any]) -> None:
        payment = await store.payment_for_intent(tx, str(obj.get("payment_intent", "")), None)
        if payment is None:
            return
        refunded = obj.get("amount_refunded")
        if refunded == payment.amount + payment.fee:
            await self._apply_refund(tx, payment, "provider")
        else:
            # Only whole refunds are made here; a partial one from the provider's dashboard
            # shows in the reconciliation.
            logger.warning("a partial refund of %s is not on the ledger", payment.public_id)

    # --- payouts ------------------------------------------------------------------------------

    def _destination(self, user: User, destination: str | None) -> str:
        if self.provider.name == "local":
            return destination or f"local:{user.id}"
        if not destination or not re.fullmatch(r"acct_[A-Za-z0-9]{6,40}", destination):
            raise InvalidInput(
                "payout_destination_required",
                "Name your connected account at the provider (acct_...).",
            )
        return destination

    async def payout(
        self, user: User, *, amount: int, currency: str | None, key: str, destination: str | None
    ) -> PayoutView:
        """Pay ``amount`` of the person's earnings out. The earnings are taken off the
        ledger first (under the account's lock, so two payouts cannot both spend them),
        then the provider is asked; a refusal puts them back."""
        code = self.currency(currency)
        self.key(key)
        to = self._destination(user, destination)
        if amount < self._settings.payments_payout_min:
            raise InvalidInput(
                "payout_too_small",
                f"A payout is at least {self._settings.payments_payout_min} minor units.",
            )
        now = self._clock.now()
        asked = ledger.fingerprint({"amount": amount, "currency": code, "to": to})
        async with self._db.transaction() as tx:
            require_good_standing(user, now)
            payout, new = await store.open_once(
                tx,
                Payout,
                public_id=_now_key(),
                request_key=f"{user.id}:{key}",
                fingerprint=asked,
                user_id=user.id,
                amount=amount,
                currency=code,
                status="pending",
                provider=self.provider.name,
                created_at=now,
                updated_at=now,
            )
            if not new and payout.fingerprint != asked:
                raise Conflict(
                    "idempotency_key_reused", "That key was used for a different payout."
                )
            if new:
                held = -await ledger_store.lock_account(tx, ledger.person(user.id), code, now)
                if held < amount:
                    raise Conflict(
                        "insufficient_balance",
                        f"Your balance is {max(held, 0)}; you cannot pay out {amount}.",
                    )
                await ledger_store.post(
                    tx, ledger.payout(f"payout:{payout.public_id}", code, user.id, amount), now
                )
        if payout.status == "pending":
            try:
                result = await self.provider.payout(
                    amount=amount,
                    currency=code,
                    destination=to,
                    key=f"townhall-payout-{payout.public_id}",
                )
            except ProviderError as exc:
                logger.warning("payout %s failed: %s", payout.public_id, exc)
                if exc.retryable:
                    raise Unavailable(
                        "payment_provider_unavailable",
                        "The payment provider could not be reached; send the same request again.",
                    ) from exc
                async with self._db.transaction() as tx:
                    await self._return_payout(tx, payout.id)
            else:
                async with self._db.transaction() as tx:
                    row = await tx.get(Payout, payout.id, with_for_update=True)
                    assert row is not None
                    if row.status == "pending":
                        row.provider_ref = result.id
                        row.status = "paid" if result.status == "paid" else "pending"
                        row.updated_at = self._clock.now()
        async with self._db.transaction() as tx:
            row = await tx.get(Payout, payout.id, populate_existing=True)
            assert row is not None
            return PayoutView(row.public_id, row.status, row.amount, row.currency, row.created_at)

    async def _return_payout(self, tx: AsyncSession, payout_id: int) -> None:
        row = await tx.get(Payout, payout_id, with_for_update=True, populate_existing=True)
        if row is None or row.status == "failed" or row.user_id is None:
            return
        await ledger_store.post(
            tx,
            ledger.payout_returned(
                f"payout:{row.public_id}:returned", row.currency, row.user_id, row.amount
            ),
            self._clock.now(),
        )
        row.status = "failed"
        row.updated_at = self._clock.now()

    async def _payout_failed(self, tx: AsyncSession, provider_ref: str) -> None:
        row = await store.lock_payout(tx, provider_ref)
        if row is not None:
            await self._return_payout(tx, row.id)

    # --- grants -------------------------------------------------------------------------------

    async def grant(
        self,
        staff: User,
        *,
        username: str,
        amount: int,
        currency: str | None,
        reason: str,
        key: str,
    ) -> HistoryLine:
        """Staff give a person money from the grants budget (S10), once for ``key``."""
        code = self.currency(currency)
        self.key(key)
        if amount < 1:
            raise InvalidInput("amount_too_small", "The amount must be at least 1.")
        async with self._db.transaction() as tx:
            person = await usernames.find(tx, username)
            if person is None:
                raise NotFound("user_not_found", f"There is nobody called @{username}.")
            written = await ledger_store.post(
                tx,
                ledger.grant(
                    f"grant:{staff.id}:{key}",
                    code,
                    person.id,
                    amount,
                    reason=reason,
                    to=person.username,
                ),
                self._clock.now(),
            )
            e = written.entry
            return HistoryLine(e.id, e.kind, amount, code, dict(e.memo), e.created_at)

    # --- reading ------------------------------------------------------------------------------

    async def earnings(self, user: User, limit: int = 50) -> Earnings:
        """The person's balances, the last lines of their account and their payouts."""
        async with self._db.transaction() as tx:
            key = ledger.person(user.id)
            held = await ledger_store.balances(tx, key)
            lines = await ledger_store.lines_of(tx, key, limit)
            payouts = await store.payouts_of(tx, user.id, limit)
        return Earnings(
            balances={c: -b for c, b in held.items()},
            payout_min=self._settings.payments_payout_min,
            history=[
                HistoryLine(
                    line.id,
                    entry.kind,
                    -line.amount,
                    line.currency,
                    _memo(entry.memo),
                    entry.created_at,
                )
                for line, entry in lines
            ],
            payouts=[
                PayoutView(p.public_id, p.status, p.amount, p.currency, p.created_at)
                for p in payouts
            ],
        )

    async def payments(self, user: User, limit: int = 50) -> list[PaymentView]:
        """What the person paid, newest first."""
        async with self._db.transaction() as tx:
            rows = await store.payments_of(tx, user.id, limit)
            payees = await user_store.by_ids(tx, [p.payee_id for p in rows if p.payee_id])
            return [
                _view(p, payees[p.payee_id].username if p.payee_id in payees else None)
                for p in rows
            ]

    async def reconcile(self, limit: int = 100) -> Reconciliation:
        """The ledger against itself (the audit) and against the provider: what it holds
        there, and the payments still open here that the provider has decided."""
        async with self._db.transaction() as tx:
            audit = await ledger_store.audit(tx)
            clearing = {
                c: await ledger_store.balance(tx, ledger.CLEARING, c)
                for c in self._settings.payments_currencies
            }
            open_payments = [
                (p.public_id, p.intent_id, p.status) for p in await store.unsettled(tx, limit)
            ]
        sides: dict[str, dict[str, int]] = {}
        mismatched: list[dict[str, str]] = []
        try:
            for code, held in clearing.items():
                there = await self.provider.balance(code)
                sides[code] = {"ledger": held, "provider": there, "difference": there - held}
            for public_id, intent_id, status in open_payments:
                assert intent_id is not None
                intent = await self.provider.retrieve_intent(intent_id)
                if intent.status != status:
                    mismatched.append(
                        {"payment": public_id, "here": status, "provider": intent.status}
                    )
        except ProviderError as exc:
            raise Unavailable(
                "payment_provider_unavailable", "The payment provider could not be reached."
            ) from exc
        return Reconciliation(
            ok=audit.ok and not mismatched and all(s["difference"] == 0 for s in sides.values()),
            entries=audit.entries,
            accounts=audit.accounts,
            unbalanced_entries=audit.unbalanced_entries,
            drifted_accounts=audit.drifted_accounts,
            clearing=sides,
            mismatched_payments=mismatched,
        )


def _memo(memo: dict[str, Any]) -> dict[str, Any]:
    """What a person's history shows of an entry's memo (not who paid a ticket, say)."""
    return {k: v for k, v in memo.items() if k in ("payment", "reason", "room", "event", "club")}


def _view(p: Payment, payee: str | None) -> PaymentView:
    return PaymentView(
        id=p.public_id,
        purpose=p.purpose,
        status=p.status,
        amount=p.amount,
        fee=p.fee,
        total=p.amount + p.fee,
        currency=p.currency,
        to=payee,
        client_secret=p.client_secret if p.status in OPEN else None,
        details=dict(p.details),
        created_at=p.created_at,
    )
