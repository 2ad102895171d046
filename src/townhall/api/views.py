"""Turn domain views and records into response bodies; the WebSocket sends the same."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from townhall.api.schemas import MeOut, SessionOut, UserRef
from townhall.domain.views import PersonView, file_url
from townhall.storage.models import Session, User


def as_json(body: BaseModel) -> dict[str, Any]:
    """A response body as the HTTP routes send it, for a WebSocket message."""
    return body.model_dump(mode="json")


def avatar_url(user: User) -> str | None:
    return file_url(user.avatar)


def user_ref(user: User) -> UserRef:
    return UserRef.model_validate(PersonView.of(user))


def session_out(session: Session, current_id: int) -> SessionOut:
    return SessionOut(
        id=session.id,
        kind=session.kind,  # type: ignore[arg-type]
        name=session.name,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        expires_at=session.expires_at,
        current=session.id == current_id,
    )


def me_out(user: User) -> MeOut:
    return MeOut(
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=avatar_url(user),
        links=dict(user.links or {}),
        status=user.status,  # type: ignore[arg-type]
        staff_role=user.staff_role,
        invites_left=user.invites_left,
        show_nominator=user.show_nominator,
        created_at=user.created_at,
        joined_at=user.joined_at,
        verified=user.verified,
        suspended_until=user.suspended_until,
        banned=user.banned_at is not None,
    )
