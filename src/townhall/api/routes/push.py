"""Web Push over HTTP (S9's optional channel): the server's key, and this device's
subscription (docs/notifications.md, "Web Push")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from townhall.api.contract import from_settings
from townhall.api.deps import ContainerDep, ViewerDep
from townhall.api.schemas import OkOut, PlainText, Strict
from townhall.config import Settings

router = APIRouter(prefix="/api/me/push", tags=["notifications"])


def endpoint_pattern(settings: Settings) -> str:
    """What ``webpush.endpoint_allowed`` takes, as the document states it: ``https`` (or
    ``http`` where allowed) to a push service's host or a subdomain of one."""
    scheme = "https?" if settings.push_allow_http else "https"
    hosts = "|".join(re.escape(h.lower()).replace("\\-", "-") for h in settings.push_endpoint_hosts)
    return rf"^{scheme}://(?:[a-z0-9-]+\.)*(?:{hosts})(?::[0-9]{{1,4}})?(?:[/?#][^\s\x00]*)?$"


# A NUL is refused (PostgreSQL cannot store one): 422, as the document's pattern says.
Endpoint = Annotated[
    PlainText,
    Field(
        min_length=8,
        max_length=1000,
        description="A push service's address (`push_endpoint_hosts`).",
        json_schema_extra=from_settings(pattern=endpoint_pattern),
    ),
]


class PushKeysIn(Strict):
    # The key's form as ``push.subscribe`` reads it (else ``invalid_push_keys``): 65 bytes
    # from 0x04, and 16 bytes.
    p256dh: str = Field(
        min_length=80,
        max_length=100,
        description="base64url, P-256 point.",
        json_schema_extra={"pattern": "^B[A-P][A-Za-z0-9_-]{85}=?$"},
    )
    auth: str = Field(
        min_length=16,
        max_length=30,
        description="base64url, 16 bytes.",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]{22}(?:==)?$"},
    )


class SubscriptionIn(Strict):
    """What the browser's ``PushSubscription.toJSON()`` gives, and the language to word the
    notifications in."""

    endpoint: Endpoint
    keys: PushKeysIn
    expirationTime: float | None = None
    lang: Literal["en", "ru", "ro", "it", "ko", "ar"] = "en"


class EndpointIn(Strict):
    endpoint: Endpoint


class PushOut(BaseModel):
    enabled: bool = Field(description="Whether this server sends push notifications at all.")
    public_key: str = Field(description="The VAPID key to subscribe with (applicationServerKey).")
    devices: int = Field(description="How many of your devices are subscribed.")
    subscribed: bool | None = Field(
        description="Whether the endpoint asked about (?endpoint=) is subscribed as you."
    )


@router.get("", response_model=PushOut)
async def push_status(
    viewer: ViewerDep,
    container: ContainerDep,
    endpoint: Annotated[str | None, Query(max_length=1000)] = None,
) -> PushOut:
    """The server's push key and how many of your devices receive pushes."""
    s = await container.push.status(viewer.user, endpoint)
    return PushOut(
        enabled=s.enabled, public_key=s.public_key, devices=s.devices, subscribed=s.subscribed
    )


@router.put("", response_model=OkOut)
async def subscribe(body: SubscriptionIn, viewer: ViewerDep, container: ContainerDep) -> OkOut:
    """Receive your notifications on this device as pushes (it ends when this session
    signs out). Only known push services' addresses are taken."""
    await container.push.subscribe(
        viewer.user, viewer.session.id, body.endpoint, body.keys.p256dh, body.keys.auth, body.lang
    )
    return OkOut()


@router.delete("", response_model=OkOut)
async def unsubscribe(body: EndpointIn, viewer: ViewerDep, container: ContainerDep) -> OkOut:
    """Stop pushes to this device."""
    await container.push.unsubscribe(viewer.user, body.endpoint)
    return OkOut()
