"""The local payment provider, for development and tests: the real one is outside this
machine. It keeps its books in one JSON-lines file in the data directory, under a file
lock, so every process of an instance sees the same intents and idempotency keys.

Payments succeed at once (``confirm="instant"``), or wait for ``confirm()``, which answers
the signed webhook the provider would send (``confirm="webhook"``). It charges the fee its
``fee()`` quoted, so a reconciliation against it comes out even.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from townhall.clock import Clock
from townhall.domain.payments import webhooks
from townhall.domain.payments.provider import (
    Intent,
    IntentStatus,
    PayoutResult,
    ProviderError,
    Refund,
    covering_fee,
)


class LocalProvider:
    name = "local"

    def __init__(
        self,
        path: Path,
        secret: bytes,
        clock: Clock,
        *,
        percent_bps: int,
        fixed: int,
        confirm: Literal["instant", "webhook"] = "instant",
    ) -> None:
        self._path = path
        self._secret = secret
        self._clock = clock
        self._bps = percent_bps
        self._fixed = fixed
        self.confirm_mode = confirm
        self.declining = False
        """While True, new intents fail as a declined card would (tests of failed renewals)."""

    def fee(self, amount: int, currency: str) -> int:
        return covering_fee(amount, self._bps, self._fixed)

    # --- the book ---------------------------------------------------------------------------

    @contextmanager
    def _book(self) -> Iterator[list[dict[str, Any]]]:
        """Every record, under the file's lock; records appended to the list are written."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0)
                records = [json.loads(line) for line in f if line.strip()]
                before = len(records)
                yield records
                for record in records[before:]:
                    f.write(json.dumps(record) + "\n")
                f.flush()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    async def _run(self, work: Any) -> Any:
        return await asyncio.to_thread(work)

    @staticmethod
    def _find(records: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
        found = None
        for r in records:
            if all(r.get(k) == v for k, v in match.items()):
                found = r
        return found

    # --- the adapter ------------------------------------------------------------------------

    async def create_intent(
        self, *, amount: int, currency: str, key: str, metadata: dict[str, str]
    ) -> Intent:
        def work() -> Intent:
            with self._book() as records:
                done = self._find(records, op="intent", key=key)
                if done is None:
                    status: IntentStatus = (
                        "failed"
                        if self.declining
                        else "succeeded"
                        if self.confirm_mode == "instant"
                        else "requires_action"
                    )
                    net = int(metadata.get("net", amount))
                    done = {
                        "op": "intent",
                        "key": key,
                        "id": f"pi_local_{secrets.token_hex(12)}",
                        "amount": amount,
                        "fee": amount - net,
                        "currency": currency,
                        "status": status,
                        "secret": secrets.token_urlsafe(18),
                    }
                    records.append(done)
                return self._intent(records, done["id"])

        return await self._run(work)

    def _intent(self, records: list[dict[str, Any]], intent_id: str) -> Intent:
        first = self._find(records, op="intent", id=intent_id)
        if first is None:
            raise ProviderError(f"no such intent: {intent_id}", retryable=False)
        status = first["status"]
        change = self._find(records, op="status", id=intent_id)
        if change is not None:
            status = change["status"]
        return Intent(
            id=intent_id,
            status=status,
            amount=first["amount"],
            currency=first["currency"],
            client_secret=f"{intent_id}_secret_{first['secret']}"
            if status == "requires_action"
            else None,
        )

    async def retrieve_intent(self, intent_id: str) -> Intent:
        def work() -> Intent:
            with self._book() as records:
                return self._intent(records, intent_id)

        return await self._run(work)

    async def refund(self, *, intent_id: str, amount: int, key: str) -> Refund:
        def work() -> Refund:
            with self._book() as records:
                done = self._find(records, op="refund", key=key)
                if done is None:
                    intent = self._intent(records, intent_id)
                    if intent.status != "succeeded":
                        raise ProviderError("the intent has not succeeded", retryable=False)
                    given = sum(
                        r["amount"]
                        for r in records
                        if r["op"] == "refund" and r["intent"] == intent_id
                    )
                    if given + amount > intent.amount:
                        raise ProviderError("more than was paid", retryable=False)
                    done = {
                        "op": "refund",
                        "key": key,
                        "id": f"re_local_{secrets.token_hex(12)}",
                        "intent": intent_id,
                        "amount": amount,
                    }
                    records.append(done)
                return Refund(done["id"], intent_id, done["amount"], "succeeded")

        return await self._run(work)

    async def payout(
        self, *, amount: int, currency: str, destination: str, key: str
    ) -> PayoutResult:
        def work() -> PayoutResult:
            with self._book() as records:
                done = self._find(records, op="payout", key=key)
                if done is None:
                    done = {
                        "op": "payout",
                        "key": key,
                        "id": f"po_local_{secrets.token_hex(12)}",
                        "amount": amount,
                        "currency": currency,
                        "destination": destination,
                    }
                    records.append(done)
                return PayoutResult(done["id"], done["amount"], done["currency"], "paid")

        return await self._run(work)

    async def balance(self, currency: str) -> int:
        def work() -> int:
            with self._book() as records:
                total = 0
                for r in records:
                    if r["op"] == "intent" and r["currency"] == currency:
                        if self._intent(records, r["id"]).status == "succeeded":
                            total += r["amount"] - r["fee"]
                    elif r["op"] == "refund":
                        first = self._find(records, op="intent", id=r["intent"])
                        if first is not None and first["currency"] == currency:
                            total -= r["amount"]
                    elif r["op"] == "payout" and r["currency"] == currency:
                        total -= r["amount"]
                return total

        return await self._run(work)

    async def close(self) -> None:
        return None

    # --- what the provider's side does on its own -------------------------------------------

    async def confirm(self, intent_id: str, succeed: bool = True) -> tuple[bytes, str]:
        """The payer confirmed (or their card was declined): the intent's new status, and
        the signed webhook (body, ``Stripe-Signature``) the provider sends about it."""

        def work() -> Intent:
            with self._book() as records:
                status = "succeeded" if succeed else "failed"
                records.append({"op": "status", "id": intent_id, "status": status})
                return self._intent(records, intent_id)

        intent: Intent = await self._run(work)
        kind = "payment_intent.succeeded" if succeed else "payment_intent.payment_failed"
        return self.event(kind, intent_object(intent))

    def event(self, kind: str, obj: dict[str, Any], at: int | None = None) -> tuple[bytes, str]:
        """A signed webhook of ``kind`` about ``obj``, sent at ``at`` (now by default)."""
        at = int(self._clock.now().timestamp()) if at is None else at
        body = webhooks.event_body(f"evt_local_{secrets.token_hex(12)}", kind, at, obj)
        return body, webhooks.sign(self._secret, body, at)


def intent_object(intent: Intent) -> dict[str, Any]:
    """An intent in Stripe's wire shape (``data.object`` of its events)."""
    status = {"failed": "requires_payment_method", "requires_action": "requires_action"}.get(
        intent.status, intent.status
    )
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "currency": intent.currency.lower(),
        "status": status,
    }
