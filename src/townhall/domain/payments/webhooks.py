"""Webhooks in Stripe's format, signed with a shared secret, for both providers.

The ``Stripe-Signature`` header is ``t=<unix time>,v1=<hex>[,v1=<hex>...]``, each ``v1``
an HMAC-SHA256 of ``"<t>.<body>"`` under the endpoint's secret (several while a secret is
rolled over). An event is taken when one signature matches and ``t`` is within the
tolerance of now, so a recorded delivery cannot be replayed later; within the window, the
event's id (``storage.payments.first_delivery``) makes a second delivery a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from townhall.errors import InvalidInput

HEADER = "Stripe-Signature"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (what the provider does)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str | None, now: datetime, tolerance: int) -> None:
    """Raise 400 unless ``header`` signs ``body`` under ``secret`` within ``tolerance``
    seconds of ``now``."""
    if not header:
        raise InvalidInput("webhook_signature_missing", f"The {HEADER} header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidInput("webhook_signature_invalid", f"The {HEADER} header is malformed.")
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidInput("webhook_signature_invalid", "The webhook's signature does not match.")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise InvalidInput(
            "webhook_signature_expired", "The webhook was signed too long ago (or ahead)."
        )


@dataclass(frozen=True)
class Event:
    """A provider event, reduced to what Townhall acts on."""

    id: str
    type: str
    created: datetime
    object: dict[str, Any]


def parse(body: bytes) -> Event:
    """The event in a verified body (400 when it is not one)."""
    try:
        raw = json.loads(body)
        event_id, kind, created = raw["id"], raw["type"], raw["created"]
        obj = raw["data"]["object"]
        if not (
            isinstance(event_id, str)
            and 0 < len(event_id) <= 100
            and isinstance(kind, str)
            and len(kind) <= 60
            and type(created) is int
            and 0 <= created < 2**40
            and isinstance(obj, dict)
        ):
            raise TypeError
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("webhook_malformed", "The webhook is not a provider event.") from exc
    return Event(event_id, kind, datetime.fromtimestamp(created, UTC), obj)


def event_body(event_id: str, kind: str, created: int, obj: dict[str, Any]) -> bytes:
    """An event's body as the provider sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": created,
            "data": {"object": obj},
        }
    ).encode()
