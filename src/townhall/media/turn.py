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
