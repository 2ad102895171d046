"""S10 creators over HTTP: tips, what a person paid and earned, payouts, the provider's
webhook, and staff's grants and reconciliation (docs/creators.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from townhall.api.contract import from_settings
from townhall.api.deps import ContainerDep, MemberDep, StaffDep
from townhall.api.routes.clubs import ClubId
from townhall.api.routes.events import EventId
from townhall.api.schemas import PlainText, Strict
from townhall.domain.creators import Earnings, PaymentView, PayoutView, Quote
from townhall.domain.subscriptions import SubscriptionView
from townhall.domain.tickets import Ticketing

router = APIRouter(tags=["creators"])

MAX_AMOUNT = 10**9
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="In minor units (cents).")]
Currency = Annotated[
    str | None,
    Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217, in capitals, one this server takes (`payments_currencies`); "
        "the server's first currency when left out.",
        json_schema_extra=from_settings(enum="payments_currencies"),
    ),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,100}$"),
    Field(
        description="Chosen by the client, new for each payment (a UUID): the same request "
        "sent again with it moves money once, and answers what the first did."
    ),
]
RoomId = Path(min_length=1, max_length=16)
PublicId = Path(min_length=1, max_length=22, pattern=r"^[A-Za-z0-9_-]+$")


class QuoteOut(BaseModel):
    amount: int
    fee: int = Field(description="The payment provider's fee, paid on top by the payer.")
    total: int = Field(description="What the payer is charged.")
    currency: str


class TipIn(Strict):
    to: str = Field(min_length=1, max_length=64, description="Someone on the room's stage.")
    amount: Amount = Field(
        description="In minor units, from `payments_tip_min` to `payments_tip_max`.",
        json_schema_extra=from_settings(minimum="payments_tip_min", maximum="payments_tip_max"),
    )
    currency: Currency = None
    show_amount: bool = Field(
        False, description="Whether the room is told the amount, or only that you tipped."
    )
    idempotency_key: IdempotencyKey


class PaymentOut(BaseModel):
    id: str
    purpose: str = Field(description="`tip`, `ticket` or `subscription`.")
    status: str = Field(
        description="`pending`, `requires_action` (confirm it with the provider using "
        "`client_secret`), `processing`, `succeeded`, `failed`, `canceled` or `refunded`."
    )
    amount: int
    fee: int
    total: int
    currency: str
    to: str | None
    client_secret: str | None
    details: dict[str, Any]
    created_at: datetime


class PaymentsOut(BaseModel):
    payments: list[PaymentOut]


class HistoryLineOut(BaseModel):
    id: int
    kind: str = Field(description="`tip`, `ticket`, `subscription`, `refund`, `payout`, ...")
    amount: int = Field(description="Positive: money you received; negative: money that left.")
    currency: str
    memo: dict[str, Any]
    at: datetime


class PayoutOut(BaseModel):
    id: str
    status: str = Field(description="`pending`, `paid` or `failed` (then back in your balance).")
    amount: int
    currency: str
    created_at: datetime


class EarningsOut(BaseModel):
    balances: dict[str, int] = Field(description="Currency → what you may be paid out.")
    payout_min: int
    history: list[HistoryLineOut]
    payouts: list[PayoutOut]


class PayoutIn(Strict):
    amount: Amount = Field(
        description="In minor units, at least `payments_payout_min`.",
        json_schema_extra=from_settings(minimum="payments_payout_min"),
    )
    currency: Currency = None
    idempotency_key: IdempotencyKey
    destination: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Your connected account at the provider (`acct_...` with Stripe).",
    )


class MoneyGrantIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    amount: Amount
    currency: Currency = None
    reason: Annotated[PlainText, StringConstraints(min_length=1, max_length=500)]
    idempotency_key: IdempotencyKey


class WebhookOut(BaseModel):
    received: bool = True
    result: str = Field(description="`handled`, `duplicate` (seen before) or `ignored`.")


class ClearingOut(BaseModel):
    ledger: int
    provider: int
    difference: int


class ReconciliationOut(BaseModel):
    ok: bool
    entries: int
    accounts: int
    unbalanced_entries: list[str]
    drifted_accounts: list[str]
    clearing: dict[str, ClearingOut]
    mismatched_payments: list[dict[str, str]]


def payment_out(p: PaymentView) -> PaymentOut:
    return PaymentOut.model_validate(p, from_attributes=True)


def payout_out(p: PayoutView) -> PayoutOut:
    return PayoutOut.model_validate(p, from_attributes=True)


def quote_out(q: Quote) -> QuoteOut:
    return QuoteOut(amount=q.amount, fee=q.fee, total=q.total, currency=q.currency)


@router.get("/api/payments/quote", response_model=QuoteOut)
async def quote(
    _: MemberDep,
    container: ContainerDep,
    amount: Annotated[int, Query(ge=1, le=MAX_AMOUNT)],
    currency: Annotated[
        str | None,
        Query(pattern=r"^[A-Z]{3}$", json_schema_extra=from_settings(enum="payments_currencies")),
    ] = None,
) -> QuoteOut:
    """What paying ``amount`` costs: the provider's fee is added on top, so the whole
    amount reaches the person paid."""
    return quote_out(container.creators.quote(amount, currency))


@router.post("/api/rooms/{room_id}/tips", response_model=PaymentOut)
async def tip(
    body: TipIn,
    user: MemberDep,
    container: ContainerDep,
    room_id: Annotated[str, RoomId],
) -> PaymentOut:
    """Tip someone on this room's stage. The room hears of it when it goes through."""
    p = await container.creators.tip(
        user,
        room_id=room_id,
        to=body.to,
        amount=body.amount,
        currency=body.currency,
        show_amount=body.show_amount,
        key=body.idempotency_key,
    )
    return payment_out(p)


@router.get("/api/me/payments", response_model=PaymentsOut)
async def my_payments(user: MemberDep, container: ContainerDep) -> PaymentsOut:
    """What you paid (tips, tickets, subscriptions), newest first."""
    return PaymentsOut(payments=[payment_out(p) for p in await container.creators.payments(user)])


@router.get("/api/me/payments/{payment_id}", response_model=PaymentOut)
async def my_payment(
    user: MemberDep, container: ContainerDep, payment_id: Annotated[str, PublicId]
) -> PaymentOut:
    """One of your payments, as it stands now."""
    return payment_out(await container.creators.payment(user.id, payment_id))


@router.get("/api/me/earnings", response_model=EarningsOut)
async def earnings(user: MemberDep, container: ContainerDep) -> EarningsOut:
    """Your balance, what you received and what was paid out."""
    e: Earnings = await container.creators.earnings(user)
    return EarningsOut.model_validate(e, from_attributes=True)


@router.post("/api/me/payouts", response_model=PayoutOut)
async def payout(body: PayoutIn, user: MemberDep, container: ContainerDep) -> PayoutOut:
    """Pay out part of your balance to your account at the provider."""
    p = await container.creators.payout(
        user,
        amount=body.amount,
        currency=body.currency,
        key=body.idempotency_key,
        destination=body.destination,
    )
    return payout_out(p)


@router.post("/api/payments/webhook", response_model=WebhookOut)
async def webhook(
    request: Request,
    container: ContainerDep,
    _event: Annotated[dict[str, Any], Body(description="A provider event.")],
    stripe_signature: Annotated[
        str | None,
        Header(
            alias="Stripe-Signature",
            max_length=1000,
            description="`t=<unix time>,v1=<HMAC-SHA256 of t.body>` (docs/creators.md).",
        ),
    ] = None,
) -> WebhookOut:
    """The payment provider tells of a payment, refund or payout. Signed with the shared
    secret; each event is acted on once, in whatever order they come."""
    result = await container.creators.webhook(await request.body(), stripe_signature)
    return WebhookOut(result=result)


@router.post("/api/admin/grants", response_model=HistoryLineOut)
async def grant(body: MoneyGrantIn, staff: StaffDep, container: ContainerDep) -> HistoryLineOut:
    """Give someone money from the platform's grants budget, on the same ledger."""
    line = await container.creators.grant(
        staff,
        username=body.username,
        amount=body.amount,
        currency=body.currency,
        reason=body.reason,
        key=body.idempotency_key,
    )
    return HistoryLineOut.model_validate(line, from_attributes=True)


@router.get("/api/admin/payments/reconciliation", response_model=ReconciliationOut)
async def reconciliation(_: StaffDep, container: ContainerDep) -> ReconciliationOut:
    """The ledger checked against its invariants and against the payment provider."""
    r = await container.creators.reconcile()
    return ReconciliationOut.model_validate(r, from_attributes=True)


# --- tickets ------------------------------------------------------------------------------


class TicketingIn(Strict):
    price: Amount
    currency: Currency = None
    capacity: int | None = Field(
        None, ge=1, le=1_000_000, description="How many tickets there are; none: no limit."
    )


class TicketingOut(BaseModel):
    price: int | None = Field(description="None: the event needs no ticket.")
    currency: str | None
    capacity: int | None
    sold: int = Field(description="Tickets paid, or reserved while their payment is open.")
    mine: str | None = Field(
        description="Your ticket: `reserved`, `valid`, `released` or `refunded`; none."
    )


class BuyIn(Strict):
    idempotency_key: IdempotencyKey


def ticketing_out(t: Ticketing) -> TicketingOut:
    return TicketingOut.model_validate(t, from_attributes=True)


@router.get("/api/events/{event_id}/tickets", response_model=TicketingOut)
async def tickets(event_id: EventId, user: MemberDep, container: ContainerDep) -> TicketingOut:
    """The event's price, capacity and tickets sold, and your ticket."""
    return ticketing_out(await container.tickets.get(user, event_id))


@router.put("/api/events/{event_id}/tickets", response_model=TicketingOut)
async def set_tickets(
    event_id: EventId, body: TicketingIn, user: MemberDep, container: ContainerDep
) -> TicketingOut:
    """Make the event ticketed: only ticket holders will enter its room. The price is
    fixed once a ticket is sold; cancelling the event refunds every ticket."""
    t = await container.tickets.set_price(user, event_id, body.price, body.currency, body.capacity)
    return ticketing_out(t)


@router.post("/api/events/{event_id}/tickets", response_model=PaymentOut)
async def buy_ticket(
    event_id: EventId, body: BuyIn, user: MemberDep, container: ContainerDep
) -> PaymentOut:
    """Buy a ticket: a seat is kept while the payment goes through."""
    return payment_out(await container.tickets.buy(user, event_id, body.idempotency_key))


# --- club subscriptions ------------------------------------------------------------------


class PlanIn(Strict):
    price: Amount = Field(description="A month, in minor units.")
    currency: Currency = None


class SubscriptionOut(BaseModel):
    price: int | None = Field(description="A month; none: the club has no paid subscription.")
    currency: str | None
    status: str | None = Field(
        description="Yours: `incomplete` (first payment open), `active`, `past_due` (a "
        "renewal failed; access kept until `grace_until`), `canceled`, `expired`; none."
    )
    current_period_end: datetime | None
    grace_until: datetime | None
    cancel_at_period_end: bool


def subscription_out(v: SubscriptionView) -> SubscriptionOut:
    return SubscriptionOut.model_validate(v, from_attributes=True)


@router.get("/api/clubs/{club_id}/subscription", response_model=SubscriptionOut)
async def subscription(
    club_id: ClubId, user: MemberDep, container: ContainerDep
) -> SubscriptionOut:
    """The club's monthly price and your subscription."""
    return subscription_out(await container.subscriptions.get(user, club_id))


@router.put("/api/clubs/{club_id}/subscription/plan", response_model=SubscriptionOut)
async def set_plan(
    club_id: ClubId, body: PlanIn, user: MemberDep, container: ContainerDep
) -> SubscriptionOut:
    """The club's founder or admins set the monthly price (paid to the founder)."""
    v = await container.subscriptions.set_plan(user, club_id, body.price, body.currency)
    return subscription_out(v)


@router.post("/api/clubs/{club_id}/subscription", response_model=PaymentOut)
async def subscribe(
    club_id: ClubId, body: BuyIn, user: MemberDep, container: ContainerDep
) -> PaymentOut:
    """Subscribe monthly: paid, you are a member (members-only rooms and events)."""
    return payment_out(await container.subscriptions.subscribe(user, club_id, body.idempotency_key))


@router.delete("/api/clubs/{club_id}/subscription", response_model=SubscriptionOut)
async def unsubscribe(club_id: ClubId, user: MemberDep, container: ContainerDep) -> SubscriptionOut:
    """Stop renewing; the month paid runs to its end."""
    return subscription_out(await container.subscriptions.cancel(user, club_id))
