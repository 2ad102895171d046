"""S5 voice in rooms: who may open an audio connection, handed to the media plane.

Anyone in a live room may connect: listeners receive the room's mix, people on stage also
send. Whether their voice is heard is never decided here nor by the client: the media
plane follows the room's events (docs/voice.md).

ICE servers that need a credential (TURN) are handed only to members in the room, with a
credential minted for them that expires (``MediaBackend.ice_servers``); servers without
one (STUN) are public knowledge and handed to anyone signed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

from townhall.config import Settings
from townhall.domain.rooms.service import Rooms
from townhall.errors import Forbidden
from townhall.media.backend import MediaBackend
from townhall.ratelimit import RateLimiter
from townhall.storage.models import User

logger = logging.getLogger(__name__)


class Voice:
    def __init__(
        self,
        settings: Settings,
        rooms: Rooms,
        media: MediaBackend,
        limiter: RateLimiter,
        secret: bytes,
    ) -> None:
        self._settings = settings
        self._rooms = rooms
        self._media = media
        self._limiter = limiter
        self._secret = secret
        if any(s.credential is not None for s in settings.media_ice_servers):
            logger.warning(
                "media_ice_servers holds a fixed TURN credential: it is deprecated, and handed "
                "only to people in a room; use media_turn_urls and media_turn_secret instead"
            )

    def config(self) -> dict[str, Any]:
        """The servers anyone signed in may know: those without a credential."""
        return self._policy(self._media.ice_servers(None))

    def _policy(self, config: dict[str, Any]) -> dict[str, Any]:
        """``media_ice_transport_policy`` for the client's ``RTCPeerConnection``, told only
        when it is not the browsers' own default (``all``)."""
        if self._settings.media_ice_transport_policy != "all":
            config["ice_transport_policy"] = self._settings.media_ice_transport_policy
        return config

    async def room_config(self, user: User, room_id: str) -> dict[str, Any]:
        """Every ICE server for connecting to this room's audio, TURN credentials included,
        for a member who is in the room."""
        if user.status != "member":
            raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
        await self._member(user, room_id)
        return self._policy(self._media.ice_servers(self._turn_id(user)))

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

    def _turn_id(self, user: User) -> str:
        # The TURN server logs usernames: it sees a stable keyed hash, never who it is.
        digest = hmac.new(self._secret, b"turn:%d" % user.id, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")

    async def _member(self, user: User, room_id: str) -> str:
        role = await self._rooms.role_of(user, room_id)
        if role is None:
            raise Forbidden("not_in_room", "Join the room before connecting its audio.")
        return role
