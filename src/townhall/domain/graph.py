"""S3 the social graph: public profiles, follows, blocks, people search and suggestions.

Blocks (S8) hide people in both directions, with one asymmetry: the person who blocked
can still open the profile of the person they blocked (to unblock them), while the
blocked person is told that the blocker does not exist. docs/graph.md has the details.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.clock import Clock
from townhall.config import Settings
from townhall.domain import usernames
from townhall.domain.happenings import Happening, Happenings, Recipients
from townhall.domain.invites import require_member
from townhall.errors import Forbidden, InvalidInput, NotFound
from townhall.ratelimit import RateLimiter
from townhall.storage import graph as graph_store
from townhall.storage import safety as safety_store
from townhall.storage import users as user_store
from townhall.storage.db import Database
from townhall.storage.graph import Key
from townhall.storage.models import User
from townhall.storage.search import PeopleSearch, find_people

SEARCH_MAX_WORDS = 8
SEARCH_WORD_MAX_CHARS = 40
SUGGESTION_NAMES = 3
"""How many of the people you follow a suggestion names ("followed by @a, @b, @c")."""

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Relationship:
    """How the viewer and another person stand."""

    username: str
    you_follow: bool
    follows_you: bool
    you_blocked: bool


@dataclass(frozen=True)
class Profile:
    user: User
    nominator: User | None
    """Who let them in; None when hidden by its owner, gone, or blocked either way."""
    followers: int
    following: int
    relationship: Relationship | None
    """None for a visitor who is not signed in."""
    shield: bool | None = None
    """Blocked by ``shield_blocks`` or more of the people the viewer follows; None for a
    visitor and on one's own profile."""


@dataclass(frozen=True)
class Person:
    """Someone in a list, with whether the viewer follows them."""

    user: User
    you_follow: bool


@dataclass(frozen=True)
class Listed(Person):
    since: datetime
    """When the follow or block that put them on the list was made."""


@dataclass(frozen=True)
class PersonPage:
    people: list[Listed]
    next_key: Key | None


@dataclass(frozen=True)
class Suggestion:
    user: User
    reason: str
    """``contact`` or ``followed_by``."""
    followed_by: list[str]
    """Usernames of up to three people the viewer follows who follow this person."""
    followed_by_count: int


def search_words(query: str) -> tuple[list[str], str]:
    """The query as prefix words (letters and digits only, so no search syntax survives)
    and as a possible exact username ("" when it cannot be one)."""
    text = unicodedata.normalize("NFKC", query).lower()
    words = [w[:SEARCH_WORD_MAX_CHARS] for w in _WORD.findall(text)]
    words = list(dict.fromkeys(words))[:SEARCH_MAX_WORDS]
    # The query as sent has a letter or digit too, not one that only its compatibility
    # form has.
    if not words or not _WORD.search(query):
        raise InvalidInput("query_too_short", "Type at least one letter or digit to search.")
    exact = text.strip().removeprefix("@")
    return words, exact if usernames.is_username(exact) else ""


class Graph:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        limiter: RateLimiter,
        search: PeopleSearch,
        happenings: Happenings,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._limiter = limiter
        self._search = search
        self._happenings = happenings

    # --- profiles -------------------------------------------------------------------------

    async def profile(self, viewer: User | None, username: str) -> Profile:
        """A public profile; people who blocked the viewer do not exist for them."""
        async with self._db.transaction() as tx:
            user = await _visible_person(tx, viewer, username)
            followers, following = await graph_store.counts(tx, user.id)
            nominator = None
            if user.show_nominator and user.nominated_by_id is not None:
                nominator = await user_store.by_id(tx, user.nominated_by_id)
                if nominator and viewer and await _blocked_either_way(tx, viewer.id, nominator.id):
                    nominator = None
            relationship = await _relationship(tx, viewer, user) if viewer else None
            shield = None
            if viewer is not None and viewer.id != user.id:
                marked = await safety_store.shielded(
                    tx, viewer.id, self._settings.shield_blocks, user_ids=[user.id]
                )
                shield = user.id in marked
        return Profile(user, nominator, followers, following, relationship, shield)

    # --- follows --------------------------------------------------------------------------

    async def follow(self, viewer: User, username: str) -> Relationship:
        """Follow someone (idempotent). Members only; never across a block."""
        require_member(viewer)
        if usernames.normalise(username) == viewer.username:
            raise InvalidInput("cannot_follow_self", "You cannot follow yourself.")
        await self._limiter.hit(f"follow:{viewer.id}", self._settings.limit_follows_per_user)
        async with self._db.transaction() as tx:
            user = await _person(tx, username)
            await graph_store.lock_pair(tx, viewer.id, user.id)
            if await _blocked_either_way(tx, viewer.id, user.id):
                raise Forbidden("blocked", "You cannot follow this person.")
            added = await graph_store.add_follow(tx, viewer.id, user.id, self._clock.now())
            relationship = await _relationship(tx, viewer, user)
            if added:
                followed = Happening(
                    "user.followed",
                    Recipients(users=(user.id,)),
                    actor_id=viewer.id,
                    key=f"user.followed:{viewer.id}:{user.id}",
                )
                await self._happenings.record(tx, followed)
        return relationship

    async def unfollow(self, viewer: User, username: str) -> Relationship:
        """Stop following someone (idempotent)."""
        require_member(viewer)
        async with self._db.transaction() as tx:
            user = await _person(tx, username)
            await graph_store.remove_follow(tx, viewer.id, user.id)
            return await _relationship(tx, viewer, user)

    async def followers(
        self, viewer: User, username: str, after: Key | None, limit: int
    ) -> PersonPage:
        """Who follows ``username``, newest first."""
        async with self._db.transaction() as tx:
            user = await _visible_person(tx, viewer, username)
            rows, next_key = await graph_store.followers_page(tx, user.id, viewer.id, after, limit)
            return await _page(tx, viewer, rows, next_key)

    async def following(
        self, viewer: User, username: str, after: Key | None, limit: int
    ) -> PersonPage:
        """Whom ``username`` follows, newest first."""
        async with self._db.transaction() as tx:
            user = await _visible_person(tx, viewer, username)
            rows, next_key = await graph_store.following_page(tx, user.id, viewer.id, after, limit)
            return await _page(tx, viewer, rows, next_key)

    # --- blocks ---------------------------------------------------------------------------

    async def block(self, viewer: User, username: str) -> Relationship:
        """Block someone (idempotent): follows between the two end, both ways. Anyone
        signed in may block, even someone who blocked them first."""
        async with self._db.transaction() as tx:
            user = await _person(tx, username)
            if user.id == viewer.id:
                raise InvalidInput("cannot_block_self", "You cannot block yourself.")
            await graph_store.lock_pair(tx, viewer.id, user.id)
            await graph_store.add_block(tx, viewer.id, user.id, self._clock.now())
            await graph_store.remove_follows_between(tx, viewer.id, user.id)
            return await _relationship(tx, viewer, user)

    async def unblock(self, viewer: User, username: str) -> Relationship:
        """Lift a block (idempotent). Follows removed by the block do not come back."""
        async with self._db.transaction() as tx:
            user = await _person(tx, username)
            await graph_store.remove_block(tx, viewer.id, user.id)
            return await _relationship(tx, viewer, user)

    async def blocked(self, viewer: User, after: Key | None, limit: int) -> PersonPage:
        """The people the viewer blocked, newest block first."""
        async with self._db.transaction() as tx:
            rows, next_key = await graph_store.blocked_page(tx, viewer.id, after, limit)
            return await _page(tx, viewer, rows, next_key)

    # --- discovery ------------------------------------------------------------------------

    async def search(self, viewer: User, query: str, limit: int) -> list[Person]:
        """People whose username, name or bio have words starting with the query's words."""
        words, exact = search_words(query)
        async with self._db.transaction() as tx:
            found = await find_people(tx, self._search, words, exact, viewer.id, limit)
            followed = await graph_store.followed_among(tx, viewer.id, [u.id for u in found])
        return [Person(u, u.id in followed) for u in found]

    async def suggestions(self, viewer: User, limit: int) -> list[Suggestion]:
        """Members to follow: contacts first, then friends of friends by how many."""
        require_member(viewer)
        async with self._db.transaction() as tx:
            contacts = await graph_store.contacts_to_follow(tx, viewer.id, limit)
            others: list[User] = []
            if len(contacts) < limit:
                others = await graph_store.friends_of_friends(
                    tx, viewer.id, [u.id for u in contacts], limit - len(contacts)
                )
            ids = [u.id for u in contacts + others]
            names = await graph_store.followed_by_friends(tx, viewer.id, ids, SUGGESTION_NAMES)
        return [
            Suggestion(u, reason, names.get(u.id, (0, []))[1], names.get(u.id, (0, []))[0])
            for reason, group in (("contact", contacts), ("followed_by", others))
            for u in group
        ]


async def _person(tx: AsyncSession, username: str) -> User:
    user = await usernames.find(tx, username)
    if user is None:
        name = usernames.normalise(username)[: usernames.MAX_CHARS]
        raise NotFound("user_not_found", f"No one is called @{name}.")
    return user


async def _visible_person(tx: AsyncSession, viewer: User | None, username: str) -> User:
    """Like ``_person``, but someone who blocked the viewer is not found, and someone on
    the waitlist is found only by themselves and staff (their name is reserved, their
    profile not yet public: issue 11 item 7)."""
    user = await _person(tx, username)
    hidden = user.status != "member" and (
        viewer is None or (viewer.id != user.id and viewer.staff_role is None)
    )
    if hidden or (viewer is not None and await graph_store.blocks(tx, user.id, viewer.id)):
        raise NotFound("user_not_found", f"No one is called @{user.username}.")
    return user


async def _blocked_either_way(tx: AsyncSession, a: int, b: int) -> bool:
    return await graph_store.blocks(tx, a, b) or await graph_store.blocks(tx, b, a)


async def _relationship(tx: AsyncSession, viewer: User, user: User) -> Relationship:
    if viewer.id == user.id:
        return Relationship(user.username, you_follow=False, follows_you=False, you_blocked=False)
    return Relationship(
        username=user.username,
        you_follow=await graph_store.follows(tx, viewer.id, user.id),
        follows_you=await graph_store.follows(tx, user.id, viewer.id),
        you_blocked=await graph_store.blocks(tx, viewer.id, user.id),
    )


async def _page(
    tx: AsyncSession, viewer: User, rows: list[tuple[User, datetime]], next_key: Key | None
) -> PersonPage:
    followed = await graph_store.followed_among(tx, viewer.id, [u.id for u, _ in rows])
    people = [Listed(u, u.id in followed, since) for u, since in rows]
    return PersonPage(people, next_key)
