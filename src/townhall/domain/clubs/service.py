"""S7 clubs: founding, editing, membership (join, apply, invite, nominate, approve, leave,
remove, roles), following, listing and search.

Every change to one club's membership locks the club's row first, so two admins acting on
the same person at once are applied one after the other. Happenings are emitted after the
transaction commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import usernames
from townhall.domain.avatars import Pictures
from townhall.domain.clubs import rules
from townhall.domain.graph import search_words
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.invites import require_member
from townhall.errors import Conflict, Forbidden, InvalidInput, NotFound
from townhall.ratelimit import RateLimiter
from townhall.storage import clubs as store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.models import Club, ClubMember, ClubRequest, User
from townhall.vocabulary import CLUB_MEMBER_ROLES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClubView:
    club: Club
    founder: User | None
    members: int
    followers: int
    my_role: str | None
    my_request: str | None


@dataclass(frozen=True)
class ClubEdit:
    """Fields to change; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    rules: list[str] | None = None
    policy: str | None = None


def club_not_found() -> NotFound:
    return NotFound("club_not_found", "There is no such club.")


class Clubs:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
        pictures: Pictures,
        happenings: Happenings,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._pictures = pictures
        self._happenings = happenings

    # --- plumbing ---------------------------------------------------------------------------

    async def _locked(self, tx: AsyncSession, club_id: int, user: User) -> tuple[Club, str | None]:
        club = await store.lock_club(tx, club_id)
        if club is None:
            raise club_not_found()
        return club, await store.role_of(tx, club.id, user.id)

    async def _view(self, tx: AsyncSession, club: Club, viewer: User | None) -> ClubView:
        founder = await user_store.by_id(tx, club.founder_id) if club.founder_id else None
        members, followers = await store.count_members(tx, club.id)
        role = request = None
        if viewer is not None:
            role = await store.role_of(tx, club.id, viewer.id)
            pending = await store.request(tx, club.id, viewer.id)
            request = pending.kind if pending is not None else None
        return ClubView(club, founder, members, followers, role, request)

    async def _target(self, tx: AsyncSession, username: str) -> User:
        target = await usernames.find(tx, username)
        if target is None:
            raise NotFound("user_not_found", "There is nobody with that username.")
        if target.status != "member":
            raise InvalidInput(
                "not_a_townhall_member", "That person is not a member of Townhall yet."
            )
        return target

    def _happening(
        self, kind: str, club: Club, actor: User, users: tuple[int, ...], **data: Any
    ) -> Happening:
        return Happening(
            kind=kind,
            recipients=Recipients(users=users),
            actor_id=actor.id,
            data={
                "club_id": club.id,
                "club_name": club.name,
                "by": actor.username,
                "url": f"{self._settings.resolved_public_url}/c/{club.id}",
                **data,
            },
        )

    # --- founding and editing ---------------------------------------------------------------

    async def found(
        self, user: User, name: str, description: str, club_rules: list[str], policy: str
    ) -> ClubView:
        """Found a club; allowed once the person has hosted enough rooms."""
        require_member(user)
        name, key = rules.check_name(name)
        description = rules.check_description(description)
        club_rules = rules.check_rules(club_rules)
        rules.check_policy(policy)
        needed = self._settings.club_found_min_rooms_hosted
        async with self._db.transaction() as tx:
            hosted = await store.rooms_created_by(tx, user.id)
            if hosted < needed:
                raise Forbidden(
                    "club_needs_hosted_rooms",
                    f"Host {needed} room{'' if needed == 1 else 's'} before founding a club "
                    f"(you hosted {hosted}).",
                    needed=needed,
                    hosted=hosted,
                )
        await self._limiter.hit(
            f"club-found:{user.id}", self._settings.limit_club_creations_per_user
        )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if await store.name_taken(tx, key):
                raise Conflict("club_name_taken", "A club with that name exists already.")
            club = await store.add_club(
                tx,
                Club(
                    name=name,
                    name_key=key,
                    description=description,
                    rules=club_rules,
                    policy=policy,
                    founder_id=user.id,
                    created_at=now,
                ),
            )
            await store.set_role(tx, club.id, user.id, rules.FOUNDER, now)
            view = await self._view(tx, club, user)
        logger.info("club %s founded by user %s", club.id, user.id)
        return view

    async def get(self, viewer: User | None, club_id: int) -> ClubView:
        async with self._db.transaction() as tx:
            club = await store.club(tx, club_id)
            if club is None:
                raise club_not_found()
            return await self._view(tx, club, viewer)

    async def edit(self, user: User, club_id: int, changes: ClubEdit) -> ClubView:
        """Change the name, description, rules or membership policy (the founder only)."""
        values: dict[str, Any] = {}
        if changes.name is not None:
            values["name"], values["name_key"] = rules.check_name(changes.name)
        if changes.description is not None:
            values["description"] = rules.check_description(changes.description)
        if changes.rules is not None:
            values["rules"] = rules.check_rules(changes.rules)
        if changes.policy is not None:
            values["policy"] = rules.check_policy(changes.policy)
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "edit")
            if "name_key" in values and await store.name_taken(tx, values["name_key"], club.id):
                raise Conflict("club_name_taken", "A club with that name exists already.")
            for name, value in values.items():
                setattr(club, name, value)
            return await self._view(tx, club, user)

    async def set_icon(self, user: User, club_id: int, data: bytes) -> ClubView:
        """Replace the club's icon with ``data`` re-encoded like an avatar."""
        async with self._db.transaction() as tx:
            club = await store.club(tx, club_id)
            if club is None:
                raise club_not_found()
            rules.require(await store.role_of(tx, club.id, user.id), "edit")
        views: list[ClubView] = []

        async def put(key: str) -> str | None:
            async with self._db.transaction() as tx:
                club, role = await self._locked(tx, club_id, user)
                rules.require(role, "edit")
                old, club.icon = club.icon, key
                views.append(await self._view(tx, club, user))
            return old

        await self._pictures.replace(user.id, data, "Icons", put)
        return views[0]

    # --- joining, following, leaving -------------------------------------------------------

    async def join(self, user: User, club_id: int) -> ClubView:
        """Join an open club, accept an invitation, or apply to a club by approval."""
        require_member(user)
        told: list[Happening] = []
        now = self._clock.now()
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            if role in rules.MEMBER_ROLES:
                raise Conflict("already_club_member", "You are a member of this club already.")
            rules.require(role, "join")
            pending = await store.request(tx, club.id, user.id)
            if (pending is not None and pending.kind == "invited") or club.policy == "open":
                await store.drop_request(tx, club.id, user.id)
                await store.set_role(tx, club.id, user.id, rules.MEMBER, now)
            elif club.policy == "approval":
                if pending is None or pending.kind != "applied":
                    await store.put_request(tx, club.id, user.id, "applied", user.id, now)
                    managers = await store.manager_ids(tx, club.id)
                    told.append(
                        self._happening(
                            "club.applied", club, user, tuple(managers), username=user.username
                        )
                    )
            else:
                raise Forbidden(
                    "club_invitation_only",
                    "This club takes members by invitation; ask a member to nominate you.",
                )
            view = await self._view(tx, club, user)
            await self._happenings.record(tx, *told)
        return view

    async def withdraw(self, user: User, club_id: int) -> ClubView:
        """Withdraw your application, or decline an invitation or a nomination."""
        async with self._db.transaction() as tx:
            club, _ = await self._locked(tx, club_id, user)
            if await store.request(tx, club.id, user.id) is None:
                raise NotFound("club_request_not_found", "There is nothing pending for you here.")
            await store.drop_request(tx, club.id, user.id)
            return await self._view(tx, club, user)

    async def leave(self, user: User, club_id: int) -> ClubView:
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            if role == rules.FOUNDER:
                raise Conflict("founder_cannot_leave", "The founder stays with the club.")
            if role not in rules.MEMBER_ROLES:
                raise Conflict("not_club_member", "You are not a member of this club.")
            rules.require(role, "leave")
            await store.drop_membership(tx, club.id, user.id)
            return await self._view(tx, club, user)

    async def follow(self, user: User, club_id: int) -> ClubView:
        """Follow a club (idempotent; members follow their clubs already)."""
        require_member(user)
        await self._limiter.hit(f"follow:{user.id}", self._settings.limit_follows_per_user)
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            if role is None:
                rules.require(role, "follow")
                await store.set_role(tx, club.id, user.id, rules.FOLLOWER, self._clock.now())
            return await self._view(tx, club, user)

    async def unfollow(self, user: User, club_id: int) -> ClubView:
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            if role in rules.MEMBER_ROLES:
                raise Conflict("leave_club_instead", "Members follow their club; leave it instead.")
            if role is not None:
                rules.require(role, "unfollow")
                await store.drop_membership(tx, club.id, user.id)
            return await self._view(tx, club, user)

    # --- managing members -------------------------------------------------------------------

    async def invite(self, user: User, club_id: int, username: str) -> None:
        """An admin or the founder invites someone; they join by accepting."""
        await self._limiter.hit(
            f"club-invite:{user.id}", self._settings.limit_club_invites_per_user
        )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "manage_members")
            target = await self._pending_target(tx, club, username)
            await store.put_request(tx, club.id, target.id, "invited", user.id, now)
            told = [self._happening("club.invited", club, user, (target.id,))]
            await self._happenings.record(tx, *told)

    async def nominate(self, user: User, club_id: int, username: str) -> None:
        """A member proposes someone; an admin or the founder approves (as an invitation
        from an admin or the founder, a nomination is an invitation at once)."""
        await self._limiter.hit(
            f"club-invite:{user.id}", self._settings.limit_club_invites_per_user
        )
        now = self._clock.now()
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "nominate")
            target = await self._pending_target(tx, club, username)
            pending = await store.request(tx, club.id, target.id)
            told: list[Happening] = []
            if rules.may(role, "manage_members"):
                await store.put_request(tx, club.id, target.id, "invited", user.id, now)
                told.append(self._happening("club.invited", club, user, (target.id,)))
            elif pending is None or pending.kind == "applied":
                # An invitation or an earlier nomination already stands otherwise.
                await store.put_request(tx, club.id, target.id, "nominated", user.id, now)
                managers = tuple(await store.manager_ids(tx, club.id))
                told.append(
                    self._happening(
                        "club.nominated", club, user, managers, username=target.username
                    )
                )
            await self._happenings.record(tx, *told)

    async def _pending_target(self, tx: AsyncSession, club: Club, username: str) -> User:
        target = await self._target(tx, username)
        if await store.role_of(tx, club.id, target.id) in rules.MEMBER_ROLES:
            raise Conflict("already_club_member", "That person is a member already.")
        return target

    async def approve(self, user: User, club_id: int, username: str) -> None:
        """Let in someone who applied or was nominated; they are told."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "manage_members")
            target = await self._target(tx, username)
            pending = await store.request(tx, club.id, target.id)
            if pending is None or pending.kind not in ("applied", "nominated"):
                raise NotFound(
                    "club_request_not_found", "That person has no application or nomination here."
                )
            await store.drop_request(tx, club.id, target.id)
            await store.set_role(tx, club.id, target.id, rules.MEMBER, now)
            told = [self._happening("club.approved", club, user, (target.id,))]
            await self._happenings.record(tx, *told)

    async def reject(self, user: User, club_id: int, username: str) -> None:
        """Turn down an application or a nomination, or take back an invitation."""
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "manage_members")
            target = await self._target(tx, username)
            if await store.request(tx, club.id, target.id) is None:
                raise NotFound("club_request_not_found", "That person has nothing pending here.")
            await store.drop_request(tx, club.id, target.id)

    async def remove(self, user: User, club_id: int, username: str) -> None:
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "manage_members")
            _, m = await self._member(tx, club, username)
            await store.drop_membership(tx, club.id, m.user_id)

    async def set_role(self, user: User, club_id: int, username: str, new_role: str) -> None:
        if new_role not in rules.ASSIGNABLE:
            raise InvalidInput(
                "invalid_club_role", "A role given is 'admin', 'leader' or 'member'."
            )
        async with self._db.transaction() as tx:
            club, role = await self._locked(tx, club_id, user)
            rules.require(role, "manage_members")
            _, m = await self._member(tx, club, username)
            m.role = new_role

    async def _member(self, tx: AsyncSession, club: Club, username: str) -> tuple[User, ClubMember]:
        target = await usernames.find(tx, username)
        m = await store.membership(tx, club.id, target.id) if target else None
        if target is None or m is None or m.role not in rules.MEMBER_ROLES:
            raise NotFound("club_member_not_found", "That person is not a member of this club.")
        if m.role == rules.FOUNDER:
            raise Forbidden(
                "cannot_change_founder", "Nobody can remove the founder or change their role."
            )
        return target, m

    # --- lists ------------------------------------------------------------------------------

    async def members(
        self,
        club_id: int,
        followers: bool,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> tuple[list[tuple[ClubMember, User]], tuple[datetime, int] | None]:
        roles = (rules.FOLLOWER,) if followers else CLUB_MEMBER_ROLES
        async with self._db.transaction() as tx:
            if await store.club(tx, club_id) is None:
                raise club_not_found()
            return await store.members_page(tx, club_id, roles, after, limit)

    async def requests(
        self, user: User, club_id: int, after: tuple[datetime, int] | None, limit: int
    ) -> tuple[list[tuple[ClubRequest, User]], tuple[datetime, int] | None]:
        """Pending applications, nominations and invitations (admins and the founder)."""
        async with self._db.transaction() as tx:
            club = await store.club(tx, club_id)
            if club is None:
                raise club_not_found()
            rules.require(await store.role_of(tx, club.id, user.id), "manage_members")
            return await store.requests_page(
                tx, club.id, ("applied", "nominated", "invited"), after, limit
            )

    async def mine(
        self, user: User, include_followed: bool, after: tuple[int] | None, limit: int
    ) -> tuple[list[tuple[Club, str]], tuple[int] | None]:
        roles = rules.ROLES if include_followed else CLUB_MEMBER_ROLES
        async with self._db.transaction() as tx:
            return await store.clubs_of(tx, user.id, roles, after, limit)

    async def search(self, query: str, limit: int) -> list[Club]:
        words, _ = search_words(query)
        async with self._db.transaction() as tx:
            return await store.search(tx, self._db.dialect, words, limit)
