"""Paid club subscriptions (S10): monthly, renewed by a sweep, with grace after a failed
renewal, and cancellation at the period's end. A subscriber is a member of the club for as
long as the subscription lasts, so members-only rooms and events are theirs (the club's
role table decides, ``clubs.rules``); someone who was a member before keeps that.

Every payment is keyed by the subscription, its period and (for renewals) the day of the
attempt, so two sweeps in two processes renew once, and a period is paid once.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain.clubs import rules as club_rules
from townhall.domain.creators import Creators, PaymentView
from townhall.domain.rooms.events import Outbox
from townhall.domain.standing import require_good_standing
from townhall.errors import Conflict, NotFound, TownhallError
from townhall.storage import clubs as club_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Club, ClubSubscription, Payment, User
from townhall.vocabulary import CLUB_MEMBER_ROLES, ClubRole

logger = logging.getLogger(__name__)

RUNNING = ("active", "past_due")


def next_month(t: datetime) -> datetime:
    """The same day and time a calendar month on (the month's last day when it is shorter)."""
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class SubscriptionView:
    price: int | None
    currency: str | None
    status: str | None
    """None: never subscribed; ``incomplete`` (first payment open), ``active``,
    ``past_due`` (in grace), ``canceled``, ``expired``."""
    current_period_end: datetime | None
    grace_until: datetime | None
    cancel_at_period_end: bool


def _club_not_found() -> NotFound:
    return NotFound("club_not_found", "There is no such club.")


class Subscriptions:
    def __init__(self, db: Database, settings: Settings, clock: Clock, creators: Creators) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._creators = creators
        creators.on_settled("subscription", self._paid)
        creators.on_failed("subscription", self._failed)

    @property
    def _grace(self) -> timedelta:
        return timedelta(days=self._settings.payments_subscription_grace_days)

    async def _view(self, tx: AsyncSession, club: Club, user: User) -> SubscriptionView:
        sub = await self._of(tx, club.id, user.id)
        return SubscriptionView(
            club.subscription_price,
            club.subscription_currency,
            sub.status if sub else None,
            sub.current_period_end if sub else None,
            sub.grace_until if sub else None,
            sub.cancel_at_period_end if sub else False,
        )

    async def _of(self, tx: AsyncSession, club_id: int, user_id: int) -> ClubSubscription | None:
        return await tx.scalar(
            select(ClubSubscription)
            .where(ClubSubscription.club_id == club_id, ClubSubscription.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def get(self, user: User, club_id: int) -> SubscriptionView:
        async with self._db.transaction() as tx:
            club = await club_store.club(tx, club_id)
            if club is None:
                raise _club_not_found()
            return await self._view(tx, club, user)

    async def set_plan(
        self, user: User, club_id: int, price: int, currency: str | None
    ) -> SubscriptionView:
        """The club's founder or an admin sets the monthly price (for the next renewals)."""
        code = self._creators.currency(currency)
        async with self._db.transaction() as tx:
            club = await club_store.lock_club(tx, club_id)
            if club is None:
                raise _club_not_found()
            # Those who manage the club's members set what membership costs.
            club_rules.require(await club_store.role_of(tx, club_id, user.id), "manage_members")
            if club.founder_id is None:
                raise Conflict("club_has_no_founder", "Subscriptions are paid to the founder.")
            club.subscription_price, club.subscription_currency = price, code
            return await self._view(tx, club, user)

    async def subscribe(self, user: User, club_id: int, key: str) -> PaymentView:
        """Pay the first month; the same key again answers the same payment. A cancelled
        subscription still running is simply resumed (nothing is paid)."""
        self._creators.key(key)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            require_good_standing(user, now)
            club = await club_store.lock_club(tx, club_id)
            if club is None:
                raise _club_not_found()
            if club.subscription_price is None or club.subscription_currency is None:
                raise Conflict("club_not_subscribable", "This club has no paid subscription.")
            if club.founder_id is None or club.founder_id == user.id:
                raise Conflict("club_not_subscribable", "You cannot subscribe to this club.")
            sub = await self._of(tx, club.id, user.id)
            if sub is None:
                sub = ClubSubscription(
                    club_id=club.id,
                    user_id=user.id,
                    status="incomplete",
                    periods=0,
                    cancel_at_period_end=False,
                    granted_membership=False,
                    created_at=now,
                    updated_at=now,
                )
                tx.add(sub)
                await tx.flush()
            elif sub.status in RUNNING and sub.cancel_at_period_end:
                sub.cancel_at_period_end, sub.updated_at = False, now
            elif sub.status in RUNNING:
                raise Conflict("already_subscribed", "You subscribe to this club already.")
            else:
                sub.status, sub.updated_at = "incomplete", now
            quote = self._creators.quote(club.subscription_price, club.subscription_currency)
            payment = await self._creators.open(
                tx,
                user,
                key,
                purpose="subscription",
                payee_id=club.founder_id,
                quote=quote,
                platform_fee=self._creators.platform_fee(quote.amount),
                details={"club": club.id, "subscription": sub.id, "period": sub.periods + 1},
            )
        return await self._creators.charge(payment)

    async def cancel(self, user: User, club_id: int) -> SubscriptionView:
        """Stop renewing: the paid month runs to its end."""
        async with self._db.transaction() as tx:
            club = await club_store.club(tx, club_id)
            if club is None:
                raise _club_not_found()
            sub = await self._of(tx, club.id, user.id)
            if sub is None or sub.status not in (*RUNNING, "incomplete"):
                raise Conflict("not_subscribed", "You do not subscribe to this club.")
            if sub.status == "incomplete":
                sub.status = "canceled"
            sub.cancel_at_period_end, sub.updated_at = True, self._clock.now()
            return await self._view(tx, club, user)

    # --- what payments do --------------------------------------------------------------------

    async def _paid(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        sub = await tx.get(
            ClubSubscription, int(payment.details["subscription"]), with_for_update=True
        )
        if sub is None or int(payment.details["period"]) != sub.periods + 1:
            return None  # a period paid already (the payment is the ledger's to explain)
        now = self._clock.now()
        # A renewal follows on from the month it renews; a new subscription starts now.
        renewal = sub.status in RUNNING and sub.current_period_end is not None
        start = sub.current_period_end if renewal and sub.current_period_end else now
        sub.periods += 1
        sub.status, sub.grace_until, sub.updated_at = "active", None, now
        sub.current_period_end = next_month(start)
        if (
            sub.status == "active"
            and await club_store.role_of(tx, sub.club_id, sub.user_id) not in CLUB_MEMBER_ROLES
        ):
            await club_store.set_role(tx, sub.club_id, sub.user_id, ClubRole.MEMBER, now)
            sub.granted_membership = True
        return None

    async def _failed(self, tx: AsyncSession, payment: Payment) -> Outbox | None:
        sub = await tx.get(
            ClubSubscription, int(payment.details["subscription"]), with_for_update=True
        )
        if sub is not None and sub.status == "active" and sub.current_period_end is not None:
            sub.status = "past_due"
            sub.grace_until = sub.current_period_end + self._grace
            sub.updated_at = self._clock.now()
        return None

    async def _end(self, tx: AsyncSession, sub: ClubSubscription, status: str) -> None:
        sub.status, sub.updated_at = status, self._clock.now()
        if sub.granted_membership:
            if await club_store.role_of(tx, sub.club_id, sub.user_id) == ClubRole.MEMBER:
                await club_store.drop_membership(tx, sub.club_id, sub.user_id)
            sub.granted_membership = False

    # --- the sweep ----------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Renew what is due, end what was cancelled or ran out of grace."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            due = list(
                await tx.scalars(
                    select(ClubSubscription.id).where(
                        ClubSubscription.status.in_(RUNNING),
                        ClubSubscription.current_period_end <= now,
                    )
                )
            )
        for sub_id in due:
            try:
                await self._renew(sub_id, now)
            except TownhallError as exc:
                logger.warning("renewing subscription %s: %s", sub_id, exc.code)

    async def _renew(self, sub_id: int, now: datetime) -> None:
        async with self._db.transaction() as tx:
            sub = await tx.get(ClubSubscription, sub_id, with_for_update=True)
            if sub is None or sub.status not in RUNNING or sub.current_period_end is None:
                return
            if sub.current_period_end > now:
                return
            club = await club_store.club(tx, sub.club_id)
            payer = await user_store.by_id(tx, sub.user_id)
            if sub.cancel_at_period_end or club is None or payer is None:
                await self._end(tx, sub, "canceled")
                return
            if sub.status == "past_due" and sub.grace_until and now >= sub.grace_until:
                await self._end(tx, sub, "expired")
                return
            if club.subscription_price is None or club.subscription_currency is None:
                await self._end(tx, sub, "canceled")
                return
            attempt = int((now - sub.current_period_end).total_seconds() // 86400)
            quote = self._creators.quote(club.subscription_price, club.subscription_currency)
            payment = await self._creators.open(
                tx,
                payer,
                f"renewal-{sub.id}-p{sub.periods + 1}-a{attempt}",
                purpose="subscription",
                payee_id=club.founder_id,
                quote=quote,
                platform_fee=self._creators.platform_fee(quote.amount),
                details={"club": club.id, "subscription": sub.id, "period": sub.periods + 1},
            )
        await self._creators.charge(payment)
