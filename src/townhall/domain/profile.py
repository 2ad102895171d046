"""S1 profiles: editing one's own profile and avatar, exporting one's data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from townhall.config import Settings
from townhall.domain import text
from townhall.domain.avatars import Pictures
from townhall.errors import InvalidInput, Unauthenticated
from townhall.ratelimit import RateLimiter
from townhall.storage import export as person_store
from townhall.storage.db import Database
from townhall.storage.export import PersonalData, Related
from townhall.storage.models import User

__all__ = [
    "HANDLES",
    "PersonalData",
    "ProfileChanges",
    "Profiles",
    "Related",
    "clean_links",
]

# The social handles a profile may show, and what each network allows in one.
HANDLES: dict[str, re.Pattern[str]] = {
    "twitter": re.compile(r"[A-Za-z0-9_]{1,15}"),
    "instagram": re.compile(r"(?!\.)(?!.*\.\.)(?!.*\.\Z)[A-Za-z0-9._]{1,30}"),
}


@dataclass(frozen=True)
class ProfileChanges:
    """Fields to change; ``None`` leaves a field as it is."""

    display_name: str | None = None
    bio: str | None = None
    show_nominator: bool | None = None
    links: Mapping[str, str | None] | None = None


def clean_links(raw: Mapping[str, str | None]) -> dict[str, str]:
    """Known handles only, without a leading @; an empty value removes that link."""
    links: dict[str, str] = {}
    for kind, value in raw.items():
        pattern = HANDLES.get(kind)
        if pattern is None:
            raise InvalidInput(
                "unknown_link",
                f"Profiles can link to {', '.join(HANDLES)}; not {kind[:40]!r}.",
                field=f"links.{kind[:40]}",
            )
        handle = (value or "").strip().removeprefix("@")
        if not handle:
            continue
        if not pattern.fullmatch(handle):
            raise InvalidInput(
                "invalid_handle", f"That is not a valid {kind} handle.", field=f"links.{kind}"
            )
        links[kind] = handle
    return links


class Profiles:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        pictures: Pictures,
        limiter: RateLimiter,
    ) -> None:
        self._db = db
        self._settings = settings
        self._pictures = pictures
        self._limiter = limiter

    async def update(self, user: User, changes: ProfileChanges) -> User:
        """Apply ``changes`` to the person's own profile, all or nothing."""
        s = self._settings
        values: dict[str, object] = {}
        if changes.display_name is not None:
            values["display_name"] = text.clean(
                changes.display_name,
                field="display_name",
                what="display name",
                max_chars=s.display_name_max_chars,
            )
        if changes.bio is not None:
            values["bio"] = text.clean(
                changes.bio, field="bio", what="bio", max_chars=s.bio_max_chars, multiline=True
            )
        if changes.show_nominator is not None:
            values["show_nominator"] = changes.show_nominator
        if changes.links is not None:
            values["links"] = clean_links(changes.links)
        async with self._db.transaction() as tx:
            me = await self._lock(tx, user)
            for name, value in values.items():
                setattr(me, name, value)
        return me

    async def set_avatar(self, user: User, data: bytes) -> User:
        """Replace the avatar with ``data`` re-encoded; the old file is deleted."""
        changed: list[User] = []

        async def put(key: str) -> str | None:
            async with self._db.transaction() as tx:
                me = await self._lock(tx, user)
                old, me.avatar = me.avatar, key
            changed.append(me)
            return old

        await self._pictures.replace(user.id, data, "Avatars", put)
        return changed[0]

    async def remove_avatar(self, user: User) -> User:
        async with self._db.transaction() as tx:
            me = await self._lock(tx, user)
            old, me.avatar = me.avatar, None
        self._pictures.discard(old)
        return me

    async def export(self, user: User) -> PersonalData:
        """Everything stored about the person (rate-limited: it reads a lot)."""
        await self._limiter.hit(f"export:{user.id}", self._settings.limit_exports_per_user)
        async with self._db.transaction() as tx:
            data = await person_store.gather(tx, user.id)
        if data is None:
            raise Unauthenticated("not_signed_in", "Sign in to continue.")
        return data

    async def _lock(self, tx: AsyncSession, user: User) -> User:
        me = await person_store.user_for_update(tx, user.id)
        if me is None:
            # Deleted by a concurrent request since this one authenticated.
            raise Unauthenticated("not_signed_in", "Sign in to continue.")
        return me
