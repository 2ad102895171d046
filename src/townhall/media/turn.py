"""Short-lived TURN credentials in coturn's REST-API scheme (``use-auth-secret``).

The TURN server and Townhall share one secret and nothing else: Townhall signs a username
that carries its own expiry, and the TURN server checks the signature and the time without
asking anyone. A credential handed out can be used only until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from townhall.config import Settings


@dataclass(frozen=True)
class TurnCredential:
    username: str
    """``"<expiry, unix seconds>:<opaque id of the person>"``."""
    credential: str
    """``base64(HMAC-SHA1(secret, username))``, as coturn computes it."""
    expires_at: datetime


def sign(secret: str, username: str) -> str:
    """The password coturn expects for ``username`` under ``static-auth-secret``."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def issue(secret: str, person: str, now: datetime, ttl_seconds: int) -> TurnCredential:
    """A credential for ``person`` (an opaque id, never a name) valid for ``ttl_seconds``."""
    expires_at = now.replace(microsecond=0) + timedelta(seconds=ttl_seconds)
    username = f"{int(expires_at.timestamp())}:{person}"
    return TurnCredential(username, sign(secret, username), expires_at)


def ice_config(settings: Settings, now: datetime, turn_for: str | None) -> dict[str, Any]:
    """The ICE servers of ``settings`` for a client (``MediaBackend.ice_servers``): without
    ``turn_for`` only those without a credential; with it every one, and a TURN credential
    minted for that opaque person id when ``media_turn_secret`` is set."""
    if turn_for is None:
        public = [
            {"urls": list(s.urls)}
            for s in settings.media_ice_servers
            if s.username is None and s.credential is None
        ]
        return {"ice_servers": public}
    servers: list[dict[str, Any]] = []
    for server in settings.media_ice_servers:
        entry: dict[str, Any] = {"urls": list(server.urls)}
        if server.username is not None:
            entry["username"] = server.username
        if server.credential is not None:
            entry["credential"] = server.credential.get_secret_value()
        servers.append(entry)
    config: dict[str, Any] = {"ice_servers": servers}
    secret = settings.media_turn_secret
    if secret is not None:
        minted = issue(secret.get_secret_value(), turn_for, now, settings.media_turn_ttl_seconds)
        servers.append(
            {
                "urls": list(settings.media_turn_urls),
                "username": minted.username,
                "credential": minted.credential,
            }
        )
        config["expires_at"] = minted.expires_at
    return config
