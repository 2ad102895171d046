"""S5 voice in rooms: who may open an audio connection, handed to the media plane.

Anyone in a live room may connect: listeners receive the room's mix, people on stage also
send. Whether their voice is heard is never decided here nor by the client: the media
plane follows the room's events (docs/voice.md).
"""

from __future__ import annotations

from typing import Any

from townhall.config import Settings
from townhall.domain.rooms.service import Rooms
from townhall.errors import Forbidden
from townhall.media.server import MediaServer
from townhall.ratelimit import RateLimiter
from townhall.storage.models import User


class Voice:
    def __init__(
        self, settings: Settings, rooms: Rooms, media: MediaServer, limiter: RateLimiter
    ) -> None:
        self._settings = settings
        self._rooms = rooms
        self._media = media
        self._limiter = limiter

    def config(self) -> dict[str, Any]:
        return {"ice_servers": self._media.ice_servers()}

    async def connect(
        self, user: User, room_id: str, offer: str, auth_session: int | None = None
    ) -> dict[str, str]:
        await self._limiter.hit(f"media:{user.id}", self._settings.limit_media_offers_per_user)
        await self._member(user, room_id)
        return await self._media.connect(
            room_id,
            user.id,
            user.username,
            offer,
            lambda: self._rooms.stage_state(room_id),
            auth_session=auth_session,
        )

    async def add_candidate(
        self,
        user: User,
        room_id: str,
        session: str,
        candidate: str,
        mid: str | None,
        index: int | None,
    ) -> None:
        await self._media.add_candidate(room_id, user.id, session, candidate, mid, index)

    async def hang_up(self, user: User, room_id: str, session: str) -> None:
        await self._media.hang_up(room_id, user.id, session)

    async def _member(self, user: User, room_id: str) -> str:
        role = await self._rooms.role_of(user, room_id)
        if role is None:
            raise Forbidden("not_in_room", "Join the room before connecting its audio.")
        return role
