"""S9 notifications over HTTP: the inbox, read marks and the settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from townhall.api.contract import named_keys
from townhall.api.deps import ContainerDep, UserDep
from townhall.api.pagination import Page, PageRequest, page_body, page_request
from townhall.api.schemas import MAX_ID, IsoTime, OkOut, Out, Strict, UserRef
from townhall.domain.notifications import CAP_MAX, KINDS, PAUSE_MAX_HOURS, NotificationSettingsView

router = APIRouter(tags=["notifications"])


class NotificationOut(Out):
    """An inbox item; the WebSocket sends the same with ``"type": "notification"``."""

    id: int
    name: str = Field(description="The kind, e.g. `room.started` (docs/notifications.md).")
    actor: UserRef | None = Field(description="Who did it; null for summaries and the like.")
    data: dict[str, Any]
    at: IsoTime = Field(description="When it happened (ISO 8601, UTC).")
    read: bool
    you_follow_actor: bool | None = Field(
        None, description="Whether you follow the actor now; null without one."
    )
    room_live: bool | None = Field(
        None, description="Whether the room it names is still live; null when it names none."
    )


class UnreadOut(BaseModel):
    unread: int


class MarkedOut(BaseModel):
    marked: int


class SettingsOut(BaseModel):
    kinds: dict[str, bool] = Field(description="Every kind, on or off.")
    fewer: bool = Field(description="Only the important kinds (docs/notifications.md).")
    paused_until: datetime | None
    hourly_cap: int


class SettingsIn(Strict):
    """Only the fields given change."""

    kinds: dict[Annotated[str, Field(max_length=32)], bool] | None = Field(
        # Another kind is the domain's unknown_notification_kind.
        None,
        max_length=len(KINDS),
        json_schema_extra=named_keys(KINDS),
    )
    fewer: bool | None = None
    pause_hours: int | None = Field(
        None, ge=0, le=PAUSE_MAX_HOURS, description="Pause for this many hours; 0 resumes."
    )
    hourly_cap: int | None = Field(None, ge=1, le=CAP_MAX)


NotificationId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _settings_out(view: NotificationSettingsView) -> SettingsOut:
    return SettingsOut(
        kinds=view.kinds,
        fewer=view.fewer,
        paused_until=view.paused_until,
        hourly_cap=view.hourly_cap,
    )


@router.get("/api/notifications", response_model=Page[NotificationOut])
async def inbox(
    user: UserDep, container: ContainerDep, page: PageRequest = page_request(int)
) -> Any:
    """Your notifications, newest first."""
    items, next_key = await container.notifications.inbox(user, page.after, page.limit)
    return page_body([NotificationOut.model_validate(i) for i in items], next_key)


@router.get("/api/notifications/unread", response_model=UnreadOut)
async def unread(user: UserDep, container: ContainerDep) -> UnreadOut:
    return UnreadOut(unread=await container.notifications.unread(user))


@router.post("/api/notifications/read", response_model=MarkedOut)
async def mark_all_read(user: UserDep, container: ContainerDep) -> MarkedOut:
    """Mark every notification read."""
    return MarkedOut(marked=await container.notifications.mark_all_read(user))


@router.post("/api/notifications/{notification_id}/read", response_model=OkOut)
async def mark_read(
    notification_id: NotificationId, user: UserDep, container: ContainerDep
) -> OkOut:
    await container.notifications.mark_read(user, notification_id)
    return OkOut()


@router.get("/api/notifications/settings", response_model=SettingsOut)
async def get_settings(user: UserDep, container: ContainerDep) -> SettingsOut:
    return _settings_out(await container.notifications.settings(user))


@router.patch("/api/notifications/settings", response_model=SettingsOut)
async def change_settings(body: SettingsIn, user: UserDep, container: ContainerDep) -> SettingsOut:
    view = await container.notifications.update_settings(
        user,
        kinds=body.kinds,
        fewer=body.fewer,
        pause_hours=body.pause_hours,
        hourly_cap=body.hourly_cap,
    )
    return _settings_out(view)
