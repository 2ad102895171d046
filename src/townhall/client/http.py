"""``Townhall``: the HTTP API as async methods, signed in with a bearer token."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from townhall.client.errors import TownhallAPIError
from townhall.client.live import Live
from townhall.client.voice import HttpSignalling

Json = dict[str, Any]


def link_token(link: str) -> str:
    """The token in an operator's sign-in link (``.../signin/<token>``), or the token itself."""
    path = urlsplit(link).path if "://" in link else link
    return path.rstrip("/").rsplit("/", 1)[-1]


class Townhall:
    """One person's connection to one Townhall server over HTTP.

    Use it as ``async with Townhall(url) as th:``; sign in with ``sign_in_with_link`` or
    ``request_code`` + ``verify_code`` (or pass a ``token``), then call the API. Every
    error answer raises ``TownhallAPIError``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> Townhall:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send one request; return the decoded JSON body (None when empty)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self._http.request(method, path, json=json, params=params, headers=headers)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.is_error:
            raise TownhallAPIError.from_body(response.status_code, body)
        return body

    # --- signing in -------------------------------------------------------------------------

    async def request_code(self, email: str) -> Json:
        """Ask for a sign-in code by mail."""
        result: Json = await self.call("POST", "/api/auth/code", json={"email": email})
        return result

    async def verify_code(
        self, email: str, code: str, *, username: str | None = None, invite: str | None = None
    ) -> Json:
        """Exchange a mailed code for a session token (kept on this client); returns the user."""
        body: Json = {"email": email, "code": code, "session": "token"}
        if username is not None:
            body["username"] = username
        if invite is not None:
            body["invite"] = invite
        return self._signed_in(await self.call("POST", "/api/auth/verify", json=body))

    async def sign_in_with_link(self, link: str) -> Json:
        """Sign in with an operator's one-time link (the URL or its token); returns the user."""
        body = {"token": link_token(link), "session": "token"}
        return self._signed_in(await self.call("POST", "/api/auth/link", json=body))

    def _signed_in(self, body: Json) -> Json:
        self.token = body["token"]
        user: Json = body["user"]
        return user

    async def sign_out(self) -> None:
        await self.call("POST", "/api/auth/signout")
        self.token = None

    # --- people -----------------------------------------------------------------------------

    async def me(self) -> Json:
        result: Json = await self.call("GET", "/api/me")
        return result

    async def profile(self, username: str) -> Json:
        result: Json = await self.call("GET", f"/api/users/{username}")
        return result

    async def follow(self, username: str) -> Json:
        result: Json = await self.call("PUT", f"/api/users/{username}/follow")
        return result

    async def unfollow(self, username: str) -> Json:
        result: Json = await self.call("DELETE", f"/api/users/{username}/follow")
        return result

    # --- rooms ------------------------------------------------------------------------------

    async def create_room(
        self, title: str = "", kind: str = "open", hand_raise: str = "everyone"
    ) -> Json:
        """Open a room; returns its snapshot (you are its moderator)."""
        body = {"title": title, "kind": kind, "hand_raise": hand_raise}
        result: Json = await self.call("POST", "/api/rooms", json=body)
        return result

    async def rooms(self) -> Any:
        """Live rooms you may join."""
        return await self.call("GET", "/api/rooms")

    async def room(self, room_id: str) -> Json:
        """A room's snapshot as you may see it."""
        result: Json = await self.call("GET", f"/api/rooms/{room_id}")
        return result

    async def join(self, room_id: str) -> Json:
        """Enter a room (into the audience); returns its snapshot."""
        result: Json = await self.call("POST", f"/api/rooms/{room_id}/join")
        return result

    async def leave(self, room_id: str) -> Any:
        return await self.call("POST", f"/api/rooms/{room_id}/leave")

    async def command(self, room_id: str, command: str, **fields: Any) -> Any:
        """Run a room command (``raise_hand``, ``invite_to_speak`` with ``target=``, ...)."""
        body = {"command": command, **{k: v for k, v in fields.items() if v is not None}}
        return await self.call("POST", f"/api/rooms/{room_id}/commands", json=body)

    async def events(self, room_id: str, after: int = 0) -> Any:
        """The room's events after number ``after`` (or a snapshot when too many passed)."""
        return await self.call("GET", f"/api/rooms/{room_id}/events", params={"after": after})

    async def preview(self, room_id: str) -> Json:
        """What a share link shows to anyone, signed in or not."""
        result: Json = await self.call("GET", f"/api/rooms/{room_id}/preview")
        return result

    # --- live ---------------------------------------------------------------------------------

    async def media_config(self, room_id: str) -> Json:
        """The ICE servers for a room you are in, TURN with credentials that expire."""
        result: Json = await self.call("GET", f"/api/rooms/{room_id}/media/config")
        return result

    def signalling(self, room_id: str) -> HttpSignalling:
        """Offer/answer for ``RoomAudio.open`` (townhall.client.voice)."""
        return HttpSignalling(
            room_id,
            post=lambda path, body: self.call("POST", path, json=body),
            delete=lambda path: self.call("DELETE", path),
        )

    def live(self, *fallback_urls: str, **options: Any) -> Live:
        """The live WebSocket, signed in as this client; ``fallback_urls`` are other API
        processes of the same deployment to reconnect to when this one goes away."""
        if self.token is None:
            raise TownhallAPIError(None, "not_signed_in", "Sign in before going live.")
        urls: Sequence[str] = [self.base_url, *fallback_urls]
        return Live(urls, self.token, **options)
