"""S2.1 invites: spending one (by email or single-use link) and redeeming it at sign-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.errors import Conflict, Forbidden, Gone, NotFound
from townhall.mail import Mail, Mailer
from townhall.ratelimit import RateLimiter
from townhall.security import hash_token, new_token
from townhall.storage import invites as invite_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Invite, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentInvite:
    invite: Invite
    link: str
    """The single-use link; shown once to the inviter, only its hash is kept."""


def require_member(user: User) -> None:
    if user.status != "member":
        raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")


def refuse_unless_pending(invite: Invite) -> None:
    if invite.status == "used":
        raise Conflict("invite_used", "That invite has already been used.")
    if invite.status == "cancelled":
        raise Gone("invite_cancelled", "That invite was cancelled.")


async def check_invite(tx: AsyncSession, token: str) -> Invite:
    invite = await invite_store.by_hash(tx, hash_token(token))
    if invite is None:
        raise NotFound("invite_not_found", "That invite does not exist.")
    refuse_unless_pending(invite)
    return invite


async def cancel(tx: AsyncSession, invite: Invite, now: datetime) -> None:
    """Cancel a pending invite, or say why it cannot be (used, already cancelled)."""
    refuse_unless_pending(invite)
    changed = await invite_store.mark_cancelled(tx, invite.id, now)
    await tx.refresh(invite)
    if not changed:
        # Someone used or cancelled it between our read and our write.
        refuse_unless_pending(invite)


async def redeem_on_sign_in(
    tx: AsyncSession, user: User, token: str | None, now: datetime, settings: Settings
) -> Invite | None:
    """Let a signing-in person in through an invite: the link they followed, or one mailed
    to their address. Members keep invites unspent."""
    from townhall.domain.accounts import admit

    if user.status == "member":
        return None
    invite = await check_invite(tx, token) if token else None
    if invite is None:
        invite = await invite_store.pending_for_email(tx, user.email)
    if invite is None:
        return None
    if not await invite_store.mark_used(tx, invite.id, user.id, now):
        # Taken by someone else between our read and our write.
        if token:
            raise Conflict("invite_used", "That invite has already been used.")
        return None
    await tx.refresh(invite)
    inviter = await user_store.by_id(tx, invite.inviter_id)
    admit(user, now, settings, nominator=inviter)
    logger.info("user %s joined through invite %s", user.id, invite.id)
    return invite


class Invites:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, mailer: Mailer, limiter: RateLimiter
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._mailer = mailer
        self._limiter = limiter

    def link_for(self, token: str) -> str:
        return f"{self._settings.resolved_public_url}/invite/{token}"

    async def send(self, user: User, email: str | None) -> SentInvite:
        """Spend one invite: mailed to ``email``, or returned as a single-use link.

        The inviter learns nothing about the address: whether it belongs to a member, to
        someone waiting or to nobody, the invite is spent, stays pending and is answered
        alike. A member is told by mail that someone invited them; someone waiting is let
        in when they next sign in (with the link or just the address), like a newcomer."""
        from townhall.domain.accounts import check_email

        require_member(user)
        address = check_email(email) if email else None
        await self._limiter.hit(f"invite:{user.id}", self._settings.limit_invites_per_user)
        now = self._clock.now()
        token = new_token()
        async with self._db.transaction() as tx:
            me = await user_store.by_id(tx, user.id)
            assert me is not None
            if not await invite_store.spend_one(tx, me.id):
                raise Conflict("no_invites_left", "You have no invites left.")
            already_in = False
            if address is not None:
                # The inviter's own earlier invite: telling them says nothing about others.
                if await invite_store.pending_for_email_from(tx, me.id, address):
                    raise Conflict("already_invited", "You already invited that address.")
                existing = await user_store.by_email(tx, address)
                already_in = existing is not None and existing.status == "member"
            invite = await invite_store.add(
                tx,
                Invite(
                    inviter_id=me.id,
                    email=address,
                    token_hash=hash_token(token),
                    status="pending",
                    created_at=now,
                ),
            )
            inviter_name = me.display_name or f"@{me.username}"
        link = self.link_for(token)
        if address is not None:
            if already_in:
                body = (
                    f"{inviter_name} invited you to Townhall. You are a member already, so "
                    "there is nothing to do; you can ignore this message.\n"
                )
            else:
                body = (
                    f"{inviter_name} invited you to Townhall, where people talk live, by "
                    f"voice.\n\nJoin with this link (it works once):\n{link}\n"
                )
            await self._mailer.send(
                Mail(to=address, subject=f"{inviter_name} invited you to Townhall", body=body)
            )
        return SentInvite(invite=invite, link=link)

    async def sent(self, user: User) -> tuple[int, list[Invite]]:
        """How many invites are left, and the ones spent, newest first."""
        async with self._db.transaction() as tx:
            me = await user_store.by_id(tx, user.id)
            assert me is not None
            return me.invites_left, await invite_store.sent_by(tx, user.id)

    async def cancel_own(self, user: User, invite_id: int) -> Invite:
        """Take back an unused invite; it returns to the quota."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            invite = await invite_store.by_id(tx, invite_id)
            if invite is None or invite.inviter_id != user.id:
                raise NotFound("invite_not_found", "That invite does not exist.")
            await cancel(tx, invite, now)
            await invite_store.refund_one(tx, user.id)
        return invite

    async def preview(self, token: str) -> User:
        """Who sent an invite link, for the page a newcomer lands on."""
        async with self._db.transaction() as tx:
            invite = await check_invite(tx, token)
            inviter = await user_store.by_id(tx, invite.inviter_id)
            if inviter is None:
                raise Gone("invite_cancelled", "That invite was cancelled.")
            return inviter
