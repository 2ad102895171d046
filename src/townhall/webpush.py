"""Outgoing Web Push (RFC 8030) through the subscriber's push service, like ``mail.py`` for
SMTP: the message encrypted for the device (RFC 8291, ``aes128gcm`` of RFC 8188, by
``http_ece``), the server identified by VAPID (RFC 8292, signed by ``py_vapid``), sent with
httpx. Nothing here knows who the people are.

The instance's VAPID key is made once and kept in the data directory (``vapid.key``, mode
0600), like the instance secret, unless ``push_vapid_private_key`` gives one: processes on
several hosts share one key that way, as they share ``secret_key``.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02

from townhall.config import Settings
from townhall.files import private_dir

logger = logging.getLogger(__name__)

KEY_FILE = "vapid.key"
GONE = frozenset({404, 410})
"""What a push service answers for a subscription that no longer exists."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """base64url, padded or not; anything outside its alphabet (``+`` and ``/`` included)
    is refused (ValueError), not skipped."""
    if not BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def vapid_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The instance's VAPID private key (P-256): configured, or made once into the data
    directory, created with its final mode as ``secret.key`` is."""
    if settings.push_vapid_private_key is not None:
        raw = settings.push_vapid_private_key.get_secret_value().strip()
    else:
        path: Path = settings.data_dir / KEY_FILE
        if not path.exists():
            private_dir(settings.data_dir)
            secret = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(b64url(secret.to_bytes(32, "big")))
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)
        raw = path.read_text().strip()
    return ec.derive_private_key(int.from_bytes(unb64url(raw), "big"), ec.SECP256R1())


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The ``applicationServerKey`` a browser subscribes with: the uncompressed point."""
    return b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def endpoint_allowed(endpoint: str, settings: Settings) -> bool:
    """Only push services' addresses are ever posted to: ``https`` (``http`` only where
    ``push_allow_http`` says, for tests) on a host named by ``push_endpoint_hosts`` or a
    subdomain of one. Anything else would let a subscriber aim the server at any address."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme != "https" and not (settings.push_allow_http and parts.scheme == "http"):
        return False
    if not host or parts.username or parts.password:
        return False
    return any(host == h or host.endswith("." + h) for h in settings.push_endpoint_hosts)


@dataclass(frozen=True)
class Target:
    """Where one device's messages go, and its keys (as the browser gave them)."""

    endpoint: str
    p256dh: str
    auth: str


class WebPusher:
    """Sends encrypted pushes; owns its HTTP client (``close``)."""

    def __init__(self, settings: Settings, key: ec.EllipticCurvePrivateKey) -> None:
        self._settings = settings
        self._vapid = Vapid02(key)
        self.public_key = public_key(key)
        self._subject = settings.push_subject or f"mailto:{_address(settings.mail_from)}"
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.push_timeout_seconds, follow_redirects=False
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def encrypt(self, target: Target, payload: bytes) -> bytes:
        """The body for one device: ``aes128gcm`` with a fresh sender key and salt."""
        return bytes(
            http_ece.encrypt(
                payload,
                private_key=ec.generate_private_key(ec.SECP256R1()),
                dh=unb64url(target.p256dh),
                auth_secret=unb64url(target.auth),
                version="aes128gcm",
            )
        )

    async def send(self, target: Target, payload: bytes, now: int, urgency: str = "normal") -> int:
        """Post one message; the push service's status (0 when it could not be reached).
        Never raises: a push is a convenience, the inbox has the notification."""
        if not endpoint_allowed(target.endpoint, self._settings):
            return 0
        parts = urlsplit(target.endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": now + 12 * 3600,
            "sub": self._subject,
        }
        try:
            body = self.encrypt(target, payload)
            headers = {
                **self._vapid.sign(claims),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(self._settings.push_ttl_seconds),
                "Urgency": urgency,
            }
            answer = await self._http().post(target.endpoint, content=body, headers=headers)
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("a push to %s failed: %s", parts.netloc, type(exc).__name__)
            return 0
        if answer.status_code >= 300 and answer.status_code not in GONE:
            logger.warning("the push service at %s answered %s", parts.netloc, answer.status_code)
        return answer.status_code


def _address(mail_from: str) -> str:
    """``Townhall <no-reply@example.org>`` → ``no-reply@example.org``."""
    return mail_from.rsplit("<", 1)[-1].rstrip(">").strip()
