"""Turn domain records into response bodies."""

from __future__ import annotations

from townhall.api.schemas import MeOut, SessionOut, UserRef
from townhall.storage.models import Session, User


def avatar_url(user: User) -> str | None:
    return f"/files/{user.avatar}" if user.avatar else None


def user_ref(user: User) -> UserRef:
    return UserRef(
        username=user.username, display_name=user.display_name, avatar_url=avatar_url(user)
    )


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
    )
