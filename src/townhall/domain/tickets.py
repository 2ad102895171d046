"""Ticketed events (S10): a host sets a price, people buy tickets up to the capacity, only
ticket holders enter the event's room (``rooms.entry``), and cancelling the event refunds
every ticket (docs/creators.md, "Tickets").

Capacity holds under concurrent purchases because a purchase reserves its ticket under the
event's row lock (``FOR UPDATE``; SQLite writes one at a time), counting the tickets that
are reserved or paid: never await the provider between the count and the insert. A
reserved ticket whose payment fails is released; one whose payment succeeds is valid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.domain.creators import Creators, PaymentView
from townhall.domain.events import Events, event_not_found
from townhall.domain.outbox import OutboxWorker
from townhall.domain.rooms.events import Outbox
from townhall.domain.standing import require_good_standing
from townhall.errors import Conflict, Forbidden
from townhall.storage import events as event_store
from townhall.storage.db import Database
from townhall.storage.models import Event, Payment, Ticket, User

logger = logging.getLogger(__name__)

REFUNDS = "tickets.refund"
"""Outbox topic: refund the tickets of a cancelled event (or one payment of it)."""

HOLDING = ("reserved", "valid")
"""Ticket statuses that take a seat."""


@dataclass(frozen=True)
class Ticketing:
    price: int | None
    currency: str | None
    capacity: int | None
    sold: int
    """Tickets reserved or paid."""
    mine: str | None
    """The viewer's ticket's status, if they have one."""


class Tickets:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        creators: Creators,
        events: Events,
        outbox: OutboxWorker,
    ) -> None:
        self._db = db
        self._clock = clock
        self._creators = creators
        self._events = events
        self._outbox = outbox
        creators.on_settled("ticket", self._paid)
        creators.on_failed("ticket", self._released)
        creators.on_refunded("ticket", self._refunded)
        events.on_cancel(self._cancelled)
        outbox.handle(REFUNDS, self.refund)

    async def _ticketing(self, tx: AsyncSession, event: Event, user: User) -> Ticketing:
        sold = await tx.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.event_id == event.id, Ticket.status.in_(HOLDING)
            )
        )
        mine = await tx.scalar(
            select(Ticket.status).where(Ticket.event_id == event.id, Ticket.user_id == user.id)
        )
        return Ticketing(
            event.ticket_price, event.ticket_currency, event.ticket_capacity, int(sold or 0), mine
        )

    async def get(self, user: User, event_id: str) -> Ticketing:
        await self._events.get(user, event_id)  # 404 for an event they may not see
        async with self._db.transaction() as tx:
            event = await event_store.event(tx, event_id)
            if event is None:
                raise event_not_found()
            return await self._ticketing(tx, event, user)

    async def set_price(
        self, user: User, event_id: str, price: int, currency: str | None, capacity: int | None
    ) -> Ticketing:
        """The event's creator makes it ticketed (or changes its price) before anyone has
        bought a ticket; the capacity may change later, never below the tickets sold."""
        code = self._creators.currency(currency)
        async with self._db.transaction() as tx:
            event = await event_store.lock_event(tx, event_id)
            if event is None:
                raise event_not_found()
            if event.created_by_id != user.id:
                raise Forbidden(
                    "not_event_creator", "Only the person who scheduled it may change it."
                )
            if event.status != "scheduled":
                raise Conflict("event_not_scheduled", "Tickets are set before the event starts.")
            t = await self._ticketing(tx, event, user)
            if t.sold and (price != event.ticket_price or code != event.ticket_currency):
                raise Conflict("tickets_sold", "Tickets were sold at the price set before.")
            if capacity is not None and capacity < t.sold:
                raise Conflict("capacity_below_sold", f"{t.sold} tickets are sold already.")
            event.ticket_price, event.ticket_currency, event.ticket_capacity = (
                price,
                code,
                capacity,
            )
            event.updated_at = self._clock.now()
            return await self._ticketing(tx, event, user)

    async def buy(self, user: User, event_id: str, key: str) -> PaymentView:
        """Reserve a seat and pay for it; the same key again answers the same payment."""
        self._creators.key(key)
        await self._events.get(user, event_id)  # 404 for an event they may not see
        async with self._db.transaction() as tx:
            require_good_standing(user, self._clock.now())
            event = await event_store.lock_event(tx, event_id)
            if event is None:
                raise event_not_found()
            if event.ticket_price is None or event.ticket_currency is None:
                raise Conflict("event_not_ticketed", "This event needs no ticket.")
            if event.status == "cancelled":
                raise Conflict("event_cancelled", "This event was cancelled.")
            quote = self._creators.quote(event.ticket_price, event.ticket_currency)
            payment = await self._creators.open(
                tx,
                user,
                key,
                purpose="ticket",
                payee_id=event.created_by_id,
                quote=quote,
                platform_fee=self._creators.platform_fee(quote.amount),
                details={"event": event.public_id},
            )
            await self._reserve(tx, event, user, payment)
        return await self._creators.charge(payment)

    async def _reserve(self, tx: AsyncSession, event: Event, user: User, payment: Payment) -> None:
        """Take a seat for ``payment`` (event row locked), unless it has one already."""
        ticket = await tx.scalar(
            select(Ticket).where(Ticket.event_id == event.id, Ticket.user_id == user.id)
        )
        if ticket is not None and ticket.payment_id == payment.id:
            return  # a repeat of the same purchase
        if ticket is not None and ticket.status in HOLDING:
            raise Conflict(
                "ticket_already_held",
                "You have a ticket (or a payment for one under way) already.",
            )
        sold = await tx.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.event_id == event.id, Ticket.status.in_(HOLDING)
            )
        )
        if event.ticket_capacity is not None and int(sold or 0) >= event.ticket_capacity:
            raise Conflict("sold_out", "Every ticket is sold.")
        now = self._clock.now()
        if ticket is None:
            tx.add(
                Ticket(
                    event_id=event.id,
                    user_id=user.id,
                    payment_id=payment.id,
                    status="reserved",
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            ticket.payment_id, ticket.status, ticket.updated_at = payment.id, "reserved", now
        await tx.flush()

    async def _of(self, tx: AsyncSession, payment: Payment) -> Ticket | None:
        return await tx.scalar(
            select(Ticket).where(Ticket.payment_id == payment.id).with_for_update()
        )

    async def _paid(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        ticket = await self._of(tx, payment)
        event = await tx.get(Event, ticket.event_id) if ticket else None
        if ticket is None or event is None or event.status == "cancelled":
            # Paid after the event was cancelled (or the ticket is gone): give it back.
            await self._outbox.put(tx, REFUNDS, {"payment": payment.id})
            return None
        ticket.status, ticket.updated_at = "valid", self._clock.now()
        return None

    async def _released(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        ticket = await self._of(tx, payment)
        if ticket is not None and ticket.status == "reserved":
            ticket.status, ticket.updated_at = "released", self._clock.now()
        return None

    async def _refunded(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        ticket = await self._of(tx, payment)
        if ticket is not None:
            ticket.status, ticket.updated_at = "refunded", self._clock.now()
        return None

    async def _cancelled(self, tx: AsyncSession, event: Event) -> None:
        if event.ticket_price is not None:
            await self._outbox.put(tx, REFUNDS, {"event": event.id})

    async def refund(self, body: dict[str, Any]) -> None:
        """The outbox's handler: refund one payment, or every paid ticket of an event.
        Repeatable (each refund is keyed); a provider that cannot answer now raises, and
        the outbox tries again later."""
        if "payment" in body:
            await self._creators.refund(int(body["payment"]), "event_cancelled")
            return
        async with self._db.transaction() as tx:
            rows = await tx.execute(
                select(Ticket.id, Ticket.payment_id).where(
                    Ticket.event_id == int(body["event"]), Ticket.status.in_(HOLDING)
                )
            )
            tickets = [(t, p) for t, p in rows.all()]
        for ticket_id, payment_id in tickets:
            if payment_id is None or not await self._creators.refund(payment_id, "event_cancelled"):
                # Not paid (yet): the seat is let go; a payment that still succeeds is
                # refunded when it does (``_paid``).
                async with self._db.transaction() as tx:
                    ticket = await tx.get(Ticket, ticket_id, with_for_update=True)
                    if ticket is not None and ticket.status == "reserved":
                        ticket.status, ticket.updated_at = "released", self._clock.now()
