"""The Stripe implementation of the provider adapter, over Stripe's HTTP API.

Creators are paid through Stripe Connect: a payout is a transfer to the creator's
connected account (``acct_...``), which Stripe then pays to their bank on its schedule.
Every call that changes something sends ``Idempotency-Key``; Stripe keeps keys for 24
hours, and Townhall's own keys (``storage``) hold for ever.
"""

from __future__ import annotations

from typing import Any

import httpx

from townhall.domain.payments.provider import (
    Intent,
    IntentStatus,
    PayoutResult,
    ProviderError,
    Refund,
    covering_fee,
)

API = "https://api.stripe.com"

_STATUS: dict[str, IntentStatus] = {
    "requires_payment_method": "requires_action",
    "requires_confirmation": "requires_action",
    "requires_action": "requires_action",
    "requires_capture": "processing",
    "processing": "processing",
    "succeeded": "succeeded",
    "canceled": "canceled",
}


class StripeProvider:
    name = "stripe"

    def __init__(
        self, api_key: str, *, percent_bps: int, fixed: int, timeout: float, base_url: str = API
    ) -> None:
        self._bps = percent_bps
        self._fixed = fixed
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=(api_key, ""),
            timeout=timeout,
            headers={"Stripe-Version": "2024-06-20"},
        )

    def fee(self, amount: int, currency: str) -> int:
        return covering_fee(amount, self._bps, self._fixed)

    async def _call(
        self, method: str, path: str, data: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            r = await self._http.request(method, path, data=data, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"Stripe could not be reached: {type(exc).__name__}") from exc
        if r.status_code >= 400:
            try:
                message = r.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = r.text[:200]
            # 409 is an idempotency clash in flight, 429 and 5xx pass: the same key again.
            retryable = r.status_code in (409, 429) or r.status_code >= 500
            raise ProviderError(f"Stripe answered {r.status_code}: {message}", retryable)
        body: dict[str, Any] = r.json()
        return body

    @staticmethod
    def _intent(raw: dict[str, Any]) -> Intent:
        status = _STATUS.get(str(raw.get("status")), "processing")
        if raw.get("status") == "requires_payment_method" and raw.get("last_payment_error"):
            status = "failed"
        return Intent(
            id=raw["id"],
            status=status,
            amount=int(raw["amount"]),
            currency=str(raw["currency"]).upper(),
            client_secret=raw.get("client_secret") if status == "requires_action" else None,
        )

    async def create_intent(
        self, *, amount: int, currency: str, key: str, metadata: dict[str, str]
    ) -> Intent:
        data: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "automatic_payment_methods[enabled]": "true",
        }
        data.update({f"metadata[{k}]": v for k, v in metadata.items()})
        return self._intent(await self._call("POST", "/v1/payment_intents", data, key))

    async def retrieve_intent(self, intent_id: str) -> Intent:
        return self._intent(await self._call("GET", f"/v1/payment_intents/{intent_id}"))

    async def refund(self, *, intent_id: str, amount: int, key: str) -> Refund:
        raw = await self._call(
            "POST", "/v1/refunds", {"payment_intent": intent_id, "amount": amount}, key
        )
        status = raw.get("status")
        return Refund(
            id=raw["id"],
            intent_id=intent_id,
            amount=int(raw["amount"]),
            status="succeeded"
            if status == "succeeded"
            else "failed"
            if status == "failed"
            else "pending",
        )

    async def payout(
        self, *, amount: int, currency: str, destination: str, key: str
    ) -> PayoutResult:
        raw = await self._call(
            "POST",
            "/v1/transfers",
            {"amount": amount, "currency": currency.lower(), "destination": destination},
            key,
        )
        return PayoutResult(raw["id"], int(raw["amount"]), str(raw["currency"]).upper(), "paid")

    async def balance(self, currency: str) -> int:
        raw = await self._call("GET", "/v1/balance")
        return sum(
            int(each["amount"])
            for part in ("available", "pending")
            for each in raw.get(part, [])
            if str(each.get("currency", "")).upper() == currency
        )

    async def close(self) -> None:
        await self._http.aclose()
