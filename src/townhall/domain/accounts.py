"""S1 accounts: passwordless sign-in with emailed codes, sessions, usernames, membership."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import invites as invite_rules
from townhall.domain import usernames
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.standing import Reason, Standing, require_good_standing
from townhall.domain.waitlist import follow_nominator
from townhall.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound, Unauthenticated
from townhall.mail import Mail, Mailer
from townhall.ratelimit import RateLimiter
from townhall.security import (
    email_hash,
    hash_code,
    hash_token,
    new_code,
    new_token,
    normalize_email,
    same,
)
from townhall.storage import auth as auth_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Session, SignInCode, SignInLink, User
from townhall.vocabulary import StaffRole, UserStatus

logger = logging.getLogger(__name__)

SESSION_KINDS = ("cookie", "token")
STAFF_ROLES = tuple(StaffRole)
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a successful sign-in: the person, and the new session's secret."""

    user: User
    session: Session
    token: str
    created: bool


def check_email(raw: str) -> str:
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput("invalid_email", "That is not a valid email address.") from None
    return normalize_email(info.normalized)


def device_label(raw: str) -> str:
    """A session's label, sent by the client or taken from its User-Agent: printable text
    only, since PostgreSQL cannot store NUL or half a surrogate pair."""
    return "".join(ch for ch in raw if ch.isprintable())[:100]


def admit(user: User, now: datetime, settings: Settings, nominator: User | None = None) -> None:
    """Make a waitlisted person a member: they get their invites and, maybe, a nominator."""
    if user.status == UserStatus.MEMBER:
        return
    user.status = UserStatus.MEMBER
    user.joined_at = now
    user.invites_left = settings.invites_per_member
    if nominator is not None and nominator.id != user.id:
        user.nominated_by_id = nominator.id


class Accounts:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        mailer: Mailer,
        limiter: RateLimiter,
        secret: bytes,
        happenings: Happenings,
        standing: Standing,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._mailer = mailer
        self._limiter = limiter
        self._secret = secret
        self._happenings = happenings
        self._standing = standing

    # --- sign-in codes -------------------------------------------------------------------

    async def request_code(self, raw_email: str, client_ip: str) -> None:
        """Mail a one-time code. Answers the same whether or not the address is known."""
        email = check_email(raw_email)
        s = self._settings
        # Counted per client first, so one client's asking cannot lock the address's owner
        # out; the cap for the address as a whole comes last and is only spent by
        # requests that passed the others.
        await self._limiter.hit(f"code-ip:{client_ip}", s.limit_code_requests_per_ip)
        await self._limiter.hit(f"code-resend:{client_ip}:{email}", s.limit_code_resend_interval)
        await self._limiter.hit(
            f"code-client-email:{client_ip}:{email}", s.limit_code_requests_per_client_email
        )
        await self._limiter.hit(f"code-email:{email}", s.limit_code_requests_per_email)
        now = self._clock.now()
        code = new_code(s.code_length)
        async with self._db.transaction() as tx:
            await auth_store.purge_codes(tx, now - timedelta(days=1))
            await auth_store.add_code(
                tx,
                SignInCode(
                    email=email,
                    code_hash=hash_code(code, email, self._secret),
                    attempts=0,
                    created_at=now,
                    expires_at=now + timedelta(seconds=s.code_ttl_seconds),
                ),
            )
        if s.development:
            logger.info("sign-in code for %s: %s", email, code)
        minutes = s.code_ttl_seconds // 60
        await self._mailer.send(
            Mail(
                to=email,
                subject=f"Your Townhall code: {code}",
                body=(
                    f"Your Townhall sign-in code is {code}\n\n"
                    f"It works once, for {minutes} minutes. If you did not ask for it, ignore "
                    "this message.\n"
                ),
            )
        )

    async def verify_code(
        self,
        raw_email: str,
        code: str,
        client_ip: str,
        *,
        kind: str = "cookie",
        device: str = "",
        username: str | None = None,
        invite_token: str | None = None,
    ) -> SignedIn:
        """Exchange a mailed code for a session, creating the account on first sign-in."""
        email = check_email(raw_email)
        if kind not in SESSION_KINDS:
            raise InvalidInput("invalid_session_kind", "The session kind is 'cookie' or 'token'.")
        s = self._settings
        await self._limiter.hit(f"verify-ip:{client_ip}", s.limit_sign_in_attempts_per_ip)
        await self._limiter.hit(
            f"verify-email:{client_ip}:{email}", s.limit_sign_in_attempts_per_client_email
        )
        now = self._clock.now()
        # The attempt is spent, and committed, before the code is compared: a guess that
        # finds no attempt left is never evaluated, however many arrive at once.
        async with self._db.transaction() as tx:
            pending = await auth_store.latest_code(tx, email)
            if pending is None:
                raise InvalidInput("code_invalid", "That code is not valid. Ask for a new one.")
            if pending.expires_at <= now:
                raise Gone("code_expired", "That code has expired. Ask for a new one.")
            attempts = await auth_store.spend_attempt(tx, pending.id, s.code_max_attempts)
            if attempts is None:
                raise Forbidden("too_many_attempts", "Too many wrong codes. Ask for a new one.")
            pending_id, code_hash = pending.id, pending.code_hash
        if not same(code_hash, hash_code(code.strip(), email, self._secret)):
            left = max(0, s.code_max_attempts - attempts)
            raise InvalidInput("code_invalid", "That code is not right.", attempts_left=left)
        async with self._db.transaction() as tx:
            # Claimed first: of two right guesses at once, one signs in. A refusal below
            # (no username yet) rolls the claim back, so the code still works.
            if not await auth_store.claim_code(tx, pending_id, now):
                raise InvalidInput("code_invalid", "That code is not valid. Ask for a new one.")
            user = await user_store.by_email(tx, email)
            created = user is None
            if user is None:
                if not username:
                    raise InvalidInput(
                        "username_required", "Choose a username to finish signing up."
                    )
                user = await self._create_user(tx, email, usernames.check(username), now)
            invite = await invite_rules.redeem_on_sign_in(
                tx, user, invite_token, now, self._settings
            )
            session, token = await self._new_session(tx, user, kind, device, now)
            if invite is not None:
                await follow_nominator(tx, user.id, invite.inviter_id, now)
                joined = Happening(
                    "invitee.joined",
                    Recipients(users=(invite.inviter_id,)),
                    actor_id=user.id,
                    key=f"invitee.joined:{user.id}",
                )
                await self._happenings.record(tx, joined)
        logger.info("user %s signed in (%s)", user.id, kind)
        return SignedIn(user=user, session=session, token=token, created=created)

    async def _create_user(
        self, tx: AsyncSession, email: str, username: str, now: datetime
    ) -> User:
        if await user_store.by_username(tx, username) is not None:
            raise Conflict("username_taken", "That username is taken.")
        user = User(
            email=email,
            username=username,
            display_name="",
            bio="",
            links={},
            status=UserStatus.WAITLISTED,
            show_nominator=True,
            invites_left=0,
            email_hash=email_hash(email),
            created_at=now,
        )
        if not self._settings.invite_only:
            admit(user, now, self._settings)
        return await user_store.add(tx, user)

    async def create_account(
        self, raw_email: str, username: str, *, member: bool = True, staff_role: str | None = None
    ) -> User:
        """Operator path: create a person directly (used by the command line)."""
        email = check_email(raw_email)
        name = usernames.check(username)
        if staff_role is not None and staff_role not in STAFF_ROLES:
            raise InvalidInput("invalid_staff_role", f"Staff roles are {', '.join(STAFF_ROLES)}.")
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if await user_store.by_email(tx, email) is not None:
                raise Conflict("email_taken", "Someone already signed up with that address.")
            user = await self._create_user(tx, email, name, now)
            if member:
                admit(user, now, self._settings)
            user.staff_role = staff_role
        return user

    async def set_staff_role(self, username: str, role: str | None) -> User:
        if role is not None and role not in STAFF_ROLES:
            raise InvalidInput("invalid_staff_role", f"Staff roles are {', '.join(STAFF_ROLES)}.")
        async with self._db.transaction() as tx:
            user = await usernames.find(tx, username)
            if user is None:
                raise NotFound("user_not_found", f"No one is called @{username}.")
            user.staff_role = role
            if role is not None:
                admit(user, self._clock.now(), self._settings)
        await self._standing.changed([user.id], Reason.STATUS)
        return user

    # --- sign-in links (printed by an operator) -----------------------------------------

    async def create_sign_in_link(self, username: str) -> str:
        """A single-use URL that signs the person in; for bootstrapping and support."""
        now = self._clock.now()
        token = new_token()
        async with self._db.transaction() as tx:
            user = await usernames.find(tx, username)
            if user is None:
                raise NotFound("user_not_found", f"No one is called @{username}.")
            await auth_store.add_link(
                tx,
                SignInLink(
                    user_id=user.id,
                    token_hash=hash_token(token),
                    created_at=now,
                    expires_at=now + timedelta(seconds=self._settings.sign_in_link_ttl_seconds),
                ),
            )
        return f"{self._settings.resolved_public_url}/signin/{token}"

    async def use_sign_in_link(
        self, token: str, client_ip: str, *, kind: str = "cookie", device: str = ""
    ) -> SignedIn:
        if kind not in SESSION_KINDS:
            raise InvalidInput("invalid_session_kind", "The session kind is 'cookie' or 'token'.")
        await self._limiter.hit(
            f"verify-ip:{client_ip}", self._settings.limit_sign_in_attempts_per_ip
        )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            link = await auth_store.link_by_hash(tx, hash_token(token))
            if link is None or link.used_at is not None:
                raise InvalidInput("link_invalid", "That sign-in link is not valid.")
            if link.expires_at <= now:
                raise Gone("link_expired", "That sign-in link has expired.")
            user = await user_store.by_id(tx, link.user_id)
            if user is None:
                raise InvalidInput("link_invalid", "That sign-in link is not valid.")
            link.used_at = now
            session, secret = await self._new_session(tx, user, kind, device, now)
        return SignedIn(user=user, session=session, token=secret, created=False)

    # --- sessions -----------------------------------------------------------------------

    async def _new_session(
        self, tx: AsyncSession, user: User, kind: str, device: str, now: datetime
    ) -> tuple[Session, str]:
        token = new_token()
        session = await auth_store.add_session(
            tx,
            Session(
                user_id=user.id,
                token_hash=hash_token(token),
                kind=kind,
                name=device_label(device),
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(days=self._settings.session_ttl_days),
            ),
        )
        return session, token

    async def authenticate(
        self, token: str, *, restricted_ok: bool = False
    ) -> tuple[User, Session]:
        """The person behind a cookie or bearer token, or ``Unauthenticated``. A suspended
        or banned person is refused (403 ``suspended`` / ``banned``) unless
        ``restricted_ok``: the few routes about their own account let them through."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            session = await auth_store.session_by_hash(tx, hash_token(token))
            if session is None or session.expires_at <= now:
                raise Unauthenticated("not_signed_in", "Sign in to continue.")
            user = await user_store.by_id(tx, session.user_id)
            if user is None:
                raise Unauthenticated("not_signed_in", "Sign in to continue.")
            if now - session.last_used_at > TOUCH_INTERVAL:
                await auth_store.touch_session(tx, session.id, now)
        if not restricted_ok:
            require_good_standing(user, now)
        return user, session

    async def sessions(self, user: User) -> list[Session]:
        async with self._db.transaction() as tx:
            return await auth_store.sessions_of(tx, user.id)

    async def revoke_session(self, user: User, session_id: int) -> None:
        """Sign one device out: its sockets and audio connections end too."""
        async with self._db.transaction() as tx:
            if not await auth_store.delete_session(tx, user.id, session_id):
                raise NotFound("session_not_found", "There is no such session.")
        await self._standing.changed([user.id], Reason.SIGNED_OUT, [session_id])

    async def revoke_all_sessions(self, user: User, keep: int | None = None) -> int:
        """Sign out everywhere (optionally except the current session)."""
        async with self._db.transaction() as tx:
            ended = [sid for sid in await auth_store.session_ids_of(tx, user.id) if sid != keep]
            count = await auth_store.delete_sessions(tx, user.id, keep)
        await self._standing.changed([user.id], Reason.SIGNED_OUT, ended)
        return count
